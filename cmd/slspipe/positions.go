package main

import (
	"errors"
	"fmt"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/engine"
)

// explainPositionMismatch adds to a pipeline's error, when it refused
// stored positions that belong to other data, how to start over. The
// advice lives here alone, so that a command resetting positions can
// replace it in one place.
func explainPositionMismatch(p *config.Pipeline, err error) error {
	if !errors.Is(err, engine.ErrPositionMismatch) {
		return err
	}
	return fmt.Errorf("%w; to read the source from its start position instead, give the pipeline another name, "+
		"or delete the state file %s (it holds the positions of every pipeline that uses it); "+
		"to go on where the stored positions are, point the pipeline back at what they were saved from", err, p.Checkpoint.Path)
}
