// Command dashboard shows what an agent's dashboard shows when the phone
// rings: who is calling and the companies they belong to. It runs the
// playground's AgentDashboard operation over plain net/http, with nothing
// but the standard library, so it can be copied into any Go program.
//
//	go run .                                   # the server at localhost:8080
//	go run ./examples/dashboard -phone '+44 20 7946 0958'
//	go run ./examples/dashboard -url http://host:8080/graphql -phone 4155550142 -country US
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "dashboard:", err)
		os.Exit(1)
	}
}

// dashboardQuery asks for the caller and their companies in one request.
// The fields are the ones the dashboard prints; ask for more in the
// playground's AgentDashboard tab.
const dashboardQuery = `
query AgentDashboard($phone: String!, $defaultCountry: String) {
  contactsByPhone(phone: $phone, defaultCountry: $defaultCountry) {
    id
    name
    title
    email
    phone
    address
    url
    companies {
      name
      website
      industry
      size
      plan
    }
  }
}`

// Contact is the part of the schema's Contact the dashboard shows.
type Contact struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Title     *string   `json:"title"`
	Email     *string   `json:"email"`
	Phone     *string   `json:"phone"`
	Address   *string   `json:"address"`
	URL       *string   `json:"url"`
	Companies []Company `json:"companies"`
}

// Company is the part of the schema's Company the dashboard shows.
type Company struct {
	Name     string  `json:"name"`
	Website  *string `json:"website"`
	Industry *string `json:"industry"`
	Size     *int    `json:"size"`
	Plan     *string `json:"plan"`
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	url := flags.String("url", "http://localhost:8080/graphql", "the API's GraphQL endpoint")
	phone := flags.String("phone", "(415) 555-0142", "the caller's number, in any common format")
	country := flags.String("country", "US", "ISO country for numbers written without a country code")
	timeout := flags.Duration("timeout", 10*time.Second, "how long to wait for the answer")
	if err := flags.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	var data struct {
		ContactsByPhone []Contact `json:"contactsByPhone"`
	}
	vars := map[string]any{"phone": *phone, "defaultCountry": *country}
	if err := graphql(ctx, http.DefaultClient, *url, dashboardQuery, vars, &data); err != nil {
		return err
	}
	printDashboard(stdout, *phone, data.ContactsByPhone)
	return nil
}

// graphql POSTs one operation and decodes its data into out. A response with
// errors is an error: their messages and codes say what went wrong.
func graphql(ctx context.Context, client *http.Client, url, query string, variables map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": variables})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	// The GraphQL over HTTP media type: request errors come back as 4xx.
	req.Header.Set("Accept", "application/graphql-response+json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var answer struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 10<<20)).Decode(&answer); err != nil {
		return fmt.Errorf("%s answered HTTP %d without a GraphQL response: %w", url, resp.StatusCode, err)
	}
	if len(answer.Errors) > 0 {
		var msgs []string
		for _, e := range answer.Errors {
			msgs = append(msgs, fmt.Sprintf("%s (%s)", e.Message, e.Extensions.Code))
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered HTTP %d", url, resp.StatusCode)
	}
	return json.Unmarshal(answer.Data, out)
}

func printDashboard(w io.Writer, phone string, contacts []Contact) {
	switch len(contacts) {
	case 0:
		fmt.Fprintf(w, "Unknown caller: no contact has the number %s.\n", phone)
		return
	case 1:
	default:
		fmt.Fprintf(w, "%d contacts share the number %s.\n\n", len(contacts), phone)
	}
	for i, c := range contacts {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "Caller:    %s\n", c.Name)
		line(w, "Title", c.Title)
		line(w, "Email", c.Email)
		line(w, "Phone", c.Phone)
		line(w, "Location", c.Address)
		line(w, "Intercom", c.URL)
		if len(c.Companies) == 0 {
			fmt.Fprintln(w, "Companies: none")
			continue
		}
		fmt.Fprintln(w, "Companies:")
		for _, co := range c.Companies {
			var about []string
			for _, s := range []*string{co.Industry, co.Plan, co.Website} {
				if s != nil && *s != "" {
					about = append(about, *s)
				}
			}
			if co.Size != nil {
				about = append(about, fmt.Sprintf("%d employees", *co.Size))
			}
			fmt.Fprintf(w, "  - %s", co.Name)
			if len(about) > 0 {
				fmt.Fprintf(w, " (%s)", strings.Join(about, ", "))
			}
			fmt.Fprintln(w)
		}
	}
}

func line(w io.Writer, label string, value *string) {
	if value != nil && *value != "" {
		fmt.Fprintf(w, "%-10s %s\n", label+":", *value)
	}
}
