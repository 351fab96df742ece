package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/internal/cache"
	"github.com/talkdesk-intercom/api/internal/config"
	"github.com/talkdesk-intercom/api/internal/workspace"
	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/sqldb"
)

// customerDB is the customer's own database wired as a source beside
// Intercom: the source, the cache in front of it, and (in the demo) the
// directory of its SQLite file.
type customerDB struct {
	db      *sqldb.DB
	cached  *cache.Source // nil when caching is off
	peer    *workspace.PeerSource
	demoDir string
}

// openCustomerDB opens CUSTOMER_DB_URL, or in the demo (no INTERCOM_TOKEN,
// no CUSTOMER_DB_URL) a SQLite demo database it seeds; nil when neither.
// A database that answers but lacks a view or column of the contract is an
// error naming it; one that does not answer yet is not (its reads fail,
// coded, until it does, and the contract is checked again in the
// background).
func (s *services) openCustomerDB(ctx context.Context, logger *slog.Logger) (*customerDB, error) {
	cfg := s.cfg
	url := cfg.CustomerDB.URL
	out := &customerDB{}
	if url == "" {
		if !cfg.Demo() {
			return nil, nil
		}
		dir, err := os.MkdirTemp("", "tdi-demo-customers-")
		if err != nil {
			return nil, fmt.Errorf("demo customer database: %w", err)
		}
		out.demoDir = dir
		path := filepath.Join(dir, "customers.db")
		if err := sqldb.CreateSQLite(ctx, path, sqldb.Contract, demoCustomerRows(time.Now())); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("demo customer database: %w", err)
		}
		url = "sqlite:" + path
	}
	db, err := sqldb.Open(ctx, sqldb.Config{URL: url, Timeout: cfg.CustomerDB.Timeout, MaxConns: cfg.CustomerDB.MaxConns,
		HistoryLimit: cfg.CustomerDB.HistoryLimit, Observe: func(view string, ok bool, elapsed time.Duration) {
			status := 200
			if !ok {
				status = 0
			}
			s.metrics.ObserveUpstream("sql:"+view, status, elapsed)
		}})
	if err != nil {
		out.close()
		return nil, err
	}
	out.db = db
	if err := db.Check(ctx); err != nil {
		// A SQLite file that cannot be read will not come up later.
		if errors.Is(err, sqldb.ErrContract) || db.Engine() == "sqlite" {
			out.close()
			return nil, fmt.Errorf("CUSTOMER_DB_URL: %w", err)
		}
		logger.Warn("the customer database is not reachable yet; serving Intercom's data until it is", "error", err)
		go s.recheckCustomerDB(db, logger)
	}
	if out.demoDir != "" {
		logger.Info("no INTERCOM_TOKEN and no CUSTOMER_DB_URL: serving a demo customer database (SQLite) beside the demo workspace",
			"try_caller", "caller(phone: \"(415) 555-0142\", defaultCountry: \"US\")")
	} else {
		logger.Info("customer database connected", "engine", db.Engine(), "url", sqldb.RedactedURL(url), "attributes", db.HasAttributes())
	}

	var src sources.Source = peerSource{db}
	var history sources.InteractionFinder = db
	if cfg.Cache.Enabled {
		ttl := cfg.CustomerDB.TTL
		out.cached = cache.New(peerSource{db}, cache.Config{
			Store:        s.store,
			Interactions: db,
			// Its own namespace: a hash of where the database is (never its
			// password), so replicas of one deployment share entries.
			Workspace: sources.KnownWorkspaceID(customerDBTenant(url)),
			TTL: cache.TTLs{Contact: ttl, Phone: ttl, Email: ttl, Company: ttl, Interactions: ttl,
				Negative: min(cfg.Cache.TTL.Negative, ttl), StaleFor: cfg.Cache.TTL.StaleFor},
			Metrics: s.metrics,
			Events:  s.publisher(),
		})
		src, history = out.cached, out.cached
		go db.Listen(s.background, 5*time.Second, func(id string) { out.changed(s.background, id) },
			func(err error) {
				logger.Warn("customer database: listening for NOTIFY "+sqldb.Channel+" failed; retrying in 5s", "error", err)
			})
	}
	out.peer = &workspace.PeerSource{Name: sqldb.Name, Source: src, History: history, Timeout: cfg.CustomerDB.Timeout}
	return out, nil
}

// recheckCustomerDB checks the contract until the database answers, so
// that the optional view is found, and a contract error is said, once it
// is up.
func (s *services) recheckCustomerDB(db *sqldb.DB, logger *slog.Logger) {
	for {
		select {
		case <-s.background.Done():
			return
		case <-time.After(5 * time.Second):
		}
		err := db.Check(s.background)
		switch {
		case err == nil:
			logger.Info("the customer database answers and matches the contract")
			return
		case errors.Is(err, sqldb.ErrContract):
			logger.Error("the customer database does not match the contract", "error", err)
			return
		}
	}
}

// changed invalidates, on every replica (the cache publishes to the event
// stream), what the cache holds of a contact a NOTIFY named: the contact,
// its history, and the lookups of the numbers and emails it had and has
// now (those may find it, or no longer).
func (c *customerDB) changed(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(ctx, c.db.Timeout()+2*time.Second)
	defer cancel()
	ch := sources.Changed{ContactIDs: []string{id}}
	add := func(found map[string]*sources.Contact) {
		if ct := found[id]; ct != nil {
			for _, p := range ct.Phones {
				if strings.HasPrefix(p, "+") {
					ch.Phones = append(ch.Phones, p)
				}
			}
			ch.Emails = append(ch.Emails, ct.Emails...)
		}
	}
	before, _ := c.cached.ContactsByIDs(ctx, []string{id}) // what the cache held
	add(before)
	now, _ := c.db.ContactsByIDs(ctx, []string{id}) // what the database holds
	add(now)
	ch.Phones, ch.Emails = sources.UniqueIDs(ch.Phones), sources.UniqueIDs(ch.Emails)
	_ = c.cached.Invalidate(ctx, ch)
}

func (c *customerDB) close() {
	if c == nil {
		return
	}
	if c.db != nil {
		c.db.Close()
	}
	if c.demoDir != "" {
		_ = os.RemoveAll(c.demoDir)
	}
}

// customerDBTenant is the cache namespace of a customer database.
func customerDBTenant(url string) string {
	sum := sha256.Sum256([]byte(sqldb.RedactedURL(url)))
	return "customerdb-" + hex.EncodeToString(sum[:6])
}

// CheckCustomerDB validates CUSTOMER_DB_URL against the view contract
// (--check-customer-db) and says what it found.
func CheckCustomerDB(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	if cfg.CustomerDB.URL == "" {
		return errors.New("CHECK_CUSTOMER_DB: set CUSTOMER_DB_URL to the database to check")
	}
	db, err := sqldb.Open(ctx, sqldb.Config{URL: cfg.CustomerDB.URL, Timeout: cfg.CustomerDB.Timeout, MaxConns: 1})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Check(ctx); err != nil {
		return err
	}
	optional := "present"
	if !db.HasAttributes() {
		optional = "absent (optional)"
	}
	logger.Info("the customer database matches the contract", "url", sqldb.RedactedURL(cfg.CustomerDB.URL),
		"views", strings.Join([]string{sqldb.ViewContacts, sqldb.ViewPoints, sqldb.ViewInteractions}, ","),
		sqldb.ViewAttributes, optional)
	return nil
}

// peerSource is the customer database as a sources.Source, so that the
// cache and the loaders take it as they take Intercom: it finds contacts
// and reads histories; what it cannot do is FORBIDDEN.
type peerSource struct{ *sqldb.DB }

func unsupported(what string) error {
	return sources.Errorf(sources.EForbidden, "the customer database has no %s", what)
}

func (peerSource) SearchContacts(context.Context, string, int) ([]*sources.Contact, error) {
	return nil, unsupported("text search")
}

func (peerSource) ListContacts(context.Context, sources.ContactPageRequest) (*sources.ContactPage, error) {
	return nil, unsupported("contact list")
}

func (peerSource) CompaniesByIDs(context.Context, []string) (map[string]*sources.Company, error) {
	return map[string]*sources.Company{}, nil
}

func (peerSource) ListAgents(context.Context) ([]*sources.Agent, error) { return nil, nil }
func (peerSource) ListTags(context.Context) ([]*sources.Tag, error)     { return nil, nil }

func (p peerSource) Validate(context.Context) (*sources.Workspace, error) {
	return &sources.Workspace{ID: sqldb.Name, Name: "customer database"}, nil
}
