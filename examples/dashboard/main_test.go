package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/talkdesk-intercom/api/e2e"
)

func TestMain(m *testing.M) { os.Exit(e2e.Main(m)) }

// TestDashboard runs the example as a developer does, against the real
// server in demo mode.
func TestDashboard(t *testing.T) {
	srv := e2e.Start(t)
	tests := []struct {
		name    string
		args    []string
		want    []string
		wantErr string
	}{
		{
			name: "the demo caller",
			args: []string{"-phone", "(415) 555-0142"},
			want: []string{
				"Caller:    Maria Garcia\n",
				"Phone:     +14155550142\n",
				"Companies:\n  - Northwind Traders (Travel, Enterprise, https://www.northwindtraders.com, 120 employees)\n",
				"  - Contoso Labs (",
			},
		},
		{
			name: "a shared number",
			args: []string{"-phone", "+1 212-555-0187"},
			want: []string{"2 contacts share the number +1 212-555-0187.", "Caller:    Daniel Kim\n", "Caller:    Grace Kim\n"},
		},
		{
			name: "an unknown caller",
			args: []string{"-phone", "+1 202-555-0000"},
			want: []string{"Unknown caller: no contact has the number +1 202-555-0000.\n"},
		},
		{
			name:    "not a phone number",
			args:    []string{"-phone", "not a phone"},
			wantErr: "BAD_USER_INPUT",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			err := run(context.Background(), append([]string{"-url", srv.URL + "/graphql"}, tt.args...), &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one with %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("the output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

func TestDashboardNoServer(t *testing.T) {
	err := run(context.Background(), []string{"-url", "http://127.0.0.1:1/graphql"}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("got %v, want a connection error", err)
	}
}
