package talkdesk

import (
	"context"
	"net/http"

	"github.com/talkdesk-intercom/api/sources"
)

// Agent synchronization (POST /talkdesk/agent_sync): the workspace's Intercom
// admins as Talkdesk agents. Their ids are what action calls send back as
// meta.agent_external_id.

type talkdeskAgent struct {
	// ID is a string, as the contract's reference says (its example shows a
	// number; Intercom's admin ids are strings of digits).
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type agentsResponse struct {
	Agents []talkdeskAgent `json:"agents"`
}

func (b *Bridge) agentSync(ctx context.Context, c *call) (reply, error) {
	admins, err := c.ws.Source.ListAgents(ctx)
	if err != nil {
		return reply{}, err
	}
	res := agentsResponse{Agents: make([]talkdeskAgent, 0, len(admins))}
	for _, a := range admins {
		if a == nil || a.Email == "" { // the email is mandatory: Talkdesk matches agents by it
			continue
		}
		res.Agents = append(res.Agents, talkdeskAgent{ID: a.ID, Name: agentName(a), Email: a.Email})
	}
	return reply{status: http.StatusOK, body: res}, nil
}

func agentName(a *sources.Agent) string {
	if a.Name != "" {
		return a.Name
	}
	return a.Email
}
