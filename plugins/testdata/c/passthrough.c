/* passthrough: every input record goes on unchanged through the pass outcome. */
#include "slspipe.h"

int slspipe_on_batch(const slspipe_batch *in, slspipe_out *out) {
	for (slspipe_u32 i = 0; i < in->record_count; i++) slspipe_pass(out, i, 0);
	return 0;
}
