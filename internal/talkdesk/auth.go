package talkdesk

import (
	"context"
	"net/http"
)

// Auth validation (POST /talkdesk/auth_validation): 204 when auth.token (and
// auth.region) open an Intercom workspace, 401 otherwise.
//
// The registry remembers a token it has validated; activation has it asked
// of Intercom again (GET /me, Tenants.Revalidate), so that a token revoked
// since is refused now. Reaching this handler means Intercom accepted it.
func (b *Bridge) authValidation(ctx context.Context, c *call) (reply, error) {
	return reply{status: http.StatusNoContent}, nil
}
