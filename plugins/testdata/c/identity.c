/* identity: every input record becomes one identical output record. */
#include "slspipe.h"

int slspipe_on_batch(const slspipe_batch *in, slspipe_out *out) {
	for (slspipe_u32 i = 0; i < in->record_count; i++) {
		slspipe_emit_copy(out, in, i);
		slspipe_ok(out, i, 0);
	}
	return 0;
}
