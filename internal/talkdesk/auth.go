package talkdesk

import (
	"context"
	"net/http"
)

// Auth validation (POST /talkdesk/auth_validation): 204 when auth.token (and
// auth.region) open an Intercom workspace, 401 otherwise.
//
// The registry remembers a token it has validated; activation asks Intercom
// again (GET /me), so that a token revoked since is refused now.
func (b *Bridge) authValidation(ctx context.Context, c *call) (reply, error) {
	if _, err := c.tenant.Validator.Validate(ctx); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusNoContent}, nil
}
