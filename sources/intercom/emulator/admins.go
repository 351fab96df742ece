package emulator

import (
	"net/http"
	"slices"
	"time"
)

// Admin is a teammate of the workspace. The first seeded admin owns the
// token (GET /me).
type Admin struct {
	ID               string
	Name             string
	Email            string
	JobTitle         string
	AvatarURL        string // "" = null
	AwayModeEnabled  bool
	AwayModeReassign bool
	HasInboxSeat     bool
	TeamIDs          []int
}

func (a Admin) clone() Admin {
	a.TeamIDs = slices.Clone(a.TeamIDs)
	return a
}

// Admins returns the workspace's admins, the token owner first.
func (w *Workspace) Admins() []Admin {
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := make([]Admin, len(w.admins))
	for i, a := range w.admins {
		out[i] = a.clone()
	}
	return out
}

// Me returns the admin that owns the token.
func (w *Workspace) Me() Admin {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.admins[0].clone()
}

// App describes the workspace as GET /me reports it.
type App struct {
	IDCode               string
	Name                 string
	Region               string
	Timezone             string
	CreatedAt            time.Time
	IdentityVerification bool
}

// App returns the workspace's app object.
func (w *Workspace) App() App {
	return App{
		IDCode:    w.opts.WorkspaceID,
		Name:      w.opts.Name,
		Region:    w.opts.Region,
		Timezone:  w.opts.Timezone.String(),
		CreatedAt: w.appCreated,
	}
}

// adminBody is the description's admin schema (avatar is a URL string here,
// unlike in admin_with_app).
type adminBody struct {
	Type               string  `json:"type"`
	ID                 string  `json:"id"`
	Name               string  `json:"name"`
	Email              string  `json:"email"`
	JobTitle           string  `json:"job_title,omitempty"`
	AwayModeEnabled    bool    `json:"away_mode_enabled"`
	AwayModeReassign   bool    `json:"away_mode_reassign"`
	AwayStatusReasonID *int    `json:"away_status_reason_id"`
	HasInboxSeat       bool    `json:"has_inbox_seat"`
	TeamIDs            []int   `json:"team_ids"`
	Avatar             *string `json:"avatar,omitempty"`
}

func newAdminBody(a Admin, withAvatar bool) adminBody {
	b := adminBody{
		Type:             "admin",
		ID:               a.ID,
		Name:             a.Name,
		Email:            a.Email,
		JobTitle:         a.JobTitle,
		AwayModeEnabled:  a.AwayModeEnabled,
		AwayModeReassign: a.AwayModeReassign,
		HasInboxSeat:     a.HasInboxSeat,
		TeamIDs:          slices.Clone(a.TeamIDs),
	}
	if b.TeamIDs == nil {
		b.TeamIDs = []int{}
	}
	if withAvatar {
		b.Avatar = strPtr(a.AvatarURL)
	}
	return b
}

type adminListBody struct {
	Type   string      `json:"type"`
	Admins []adminBody `json:"admins"`
}

type appBody struct {
	Type                 string `json:"type"`
	IDCode               string `json:"id_code"`
	Name                 string `json:"name"`
	CreatedAt            int64  `json:"created_at"`
	Secure               bool   `json:"secure"`
	IdentityVerification bool   `json:"identity_verification"`
	Timezone             string `json:"timezone"`
	Region               string `json:"region"`
}

// meBody is admin_with_app.
type meBody struct {
	Type             string     `json:"type"`
	ID               string     `json:"id"`
	Email            string     `json:"email"`
	Name             string     `json:"name"`
	JobTitle         string     `json:"job_title,omitempty"`
	EmailVerified    bool       `json:"email_verified"`
	AwayModeEnabled  bool       `json:"away_mode_enabled"`
	AwayModeReassign bool       `json:"away_mode_reassign"`
	HasInboxSeat     bool       `json:"has_inbox_seat"`
	TeamIDs          []int      `json:"team_ids"`
	App              appBody    `json:"app"`
	Avatar           avatarBody `json:"avatar"`
}

func (w *Workspace) handleMe(r *http.Request, _ map[string]string) (any, *apiError) {
	me, app := w.Me(), w.App()
	b := meBody{
		Type:             "admin",
		ID:               me.ID,
		Email:            me.Email,
		Name:             me.Name,
		JobTitle:         me.JobTitle,
		EmailVerified:    true,
		AwayModeEnabled:  me.AwayModeEnabled,
		AwayModeReassign: me.AwayModeReassign,
		HasInboxSeat:     me.HasInboxSeat,
		TeamIDs:          me.TeamIDs,
		App: appBody{
			Type:                 "app",
			IDCode:               app.IDCode,
			Name:                 app.Name,
			CreatedAt:            app.CreatedAt.Unix(),
			IdentityVerification: app.IdentityVerification,
			Timezone:             app.Timezone,
			Region:               app.Region,
		},
		Avatar: avatarBody{Type: "avatar", ImageURL: me.AvatarURL},
	}
	if b.TeamIDs == nil {
		b.TeamIDs = []int{}
	}
	return b, nil
}

// handleAdmins lists admins; like Intercom, avatars only with
// display_avatar=true.
func (w *Workspace) handleAdmins(r *http.Request, _ map[string]string) (any, *apiError) {
	withAvatar := r.URL.Query().Get("display_avatar") == "true"
	body := adminListBody{Type: "admin.list", Admins: []adminBody{}}
	for _, a := range w.Admins() {
		body.Admins = append(body.Admins, newAdminBody(a, withAvatar))
	}
	return body, nil
}

func (w *Workspace) handleAdmin(r *http.Request, p map[string]string) (any, *apiError) {
	withAvatar := r.URL.Query().Get("display_avatar") == "true"
	for _, a := range w.Admins() {
		if a.ID == p["id"] {
			return newAdminBody(a, withAvatar), nil
		}
	}
	return nil, errorf(http.StatusNotFound, CodeAdminNotFound, "Admin not found")
}
