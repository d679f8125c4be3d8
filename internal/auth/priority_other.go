//go:build !linux

package auth

import "errors"

// idlePriority is Linux only: elsewhere the hashing threads keep the normal
// priority.
func idlePriority() error { return errors.New("auth: idle priority is Linux only") }
