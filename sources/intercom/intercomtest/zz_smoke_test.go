package intercomtest

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestZZSmoke(t *testing.T) {
	s, err := Start(Options{})
	if err != nil { t.Fatal(err) }
	defer s.Close()
	do := func(method, path, body string) {
		req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer test-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil { t.Fatal(err) }
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(b) > 1500 { b = b[:1500] }
		fmt.Printf("%s %s -> %d %v\n%s\n\n", method, path, resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"), b)
	}
	do("GET", "/me", "")
	do("GET", "/admins", "")
	do("GET", "/contacts/"+DemoCallerID, "")
	do("GET", "/contacts/"+DemoCallerID+"/companies", "")
	do("POST", "/contacts/search", `{"query":{"field":"formatted_phone","operator":"=","value":"+14155550142"}}`)
	do("POST", "/contacts/search", `{"query":{"field":"updated_at","operator":">=","value":1}}`)
	do("GET", "/companies?per_page=2", "")
	fmt.Println(len(s.Workspace.Contacts()))
	for _, c := range s.Workspace.Contacts()[:40] { fmt.Printf("%-22s %-3s %-24q %-16s %v %s\n", c.Name, c.LocationCountry, c.Phone, c.FormattedPhone, c.Legacy, c.Email) }
}
