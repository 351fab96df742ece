package intercom

import (
	"context"

	"github.com/talkdesk-intercom/api/sources"
)

// ListAgents lists the workspace's admins (its teammates).
func (c *Client) ListAgents(ctx context.Context) ([]*sources.Agent, error) {
	var w wireAdminList
	if err := c.do(ctx, "GET", "GET /admins", "/admins", nil, nil, &w); err != nil {
		return nil, err
	}
	out := make([]*sources.Agent, len(w.Admins))
	for i, a := range w.Admins {
		out[i] = toAgent(a)
	}
	return out, nil
}

// Validate checks the token with GET /me and names its workspace.
func (c *Client) Validate(ctx context.Context) (*sources.Workspace, error) {
	var w wireMe
	if err := c.do(ctx, "GET", "GET /me", "/me", nil, nil, &w); err != nil {
		return nil, err
	}
	ws := &sources.Workspace{Admin: *toAgent(w.wireAdmin)}
	if w.App != nil {
		ws.ID, ws.Name, ws.Region = w.App.IDCode, w.App.Name, w.App.Region
	}
	if ws.ID == "" {
		return nil, sources.Errorf(sources.EUpstreamUnavailable, "Intercom's /me named no workspace")
	}
	c.rememberWorkspace(ws.ID)
	return ws, nil
}
