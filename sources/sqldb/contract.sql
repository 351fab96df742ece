-- The customer database contract of talkdesk-intercom (docs/customer-database.md).
--
-- The service reads four views, by these names and columns; nothing else. Map
-- your own tables to them with CREATE VIEW (any joins, casts and filters you
-- need) and give the service a read-only login that may SELECT from them.
--
-- This file is an example that runs as it is on PostgreSQL and on SQLite: a
-- small shop's tables (shop_*), the four views over them, and the indexes the
-- lookups use. Replace the shop_* tables with yours; keep the views.

CREATE TABLE shop_customers (
  id           text PRIMARY KEY,      -- the contact's id: text, however you store it
  full_name    text,
  company_name text,
  job_title    text,
  profile_url  text,
  updated_at   timestamptz
);

CREATE TABLE shop_phones (
  customer_id text NOT NULL REFERENCES shop_customers (id),
  number      text NOT NULL         -- E.164 (+14155550142) is matched exactly; other spellings too (see the docs)
);
CREATE INDEX shop_phones_number ON shop_phones (number);
CREATE INDEX shop_phones_customer ON shop_phones (customer_id);

CREATE TABLE shop_emails (
  customer_id text NOT NULL REFERENCES shop_customers (id),
  email       text NOT NULL
);
CREATE INDEX shop_emails_email ON shop_emails (lower(email));
CREATE INDEX shop_emails_customer ON shop_emails (customer_id);

CREATE TABLE shop_orders (
  order_no    text PRIMARY KEY,
  customer_id text NOT NULL REFERENCES shop_customers (id),
  summary     text,
  state       text,                  -- paid, shipped, delivered, cancelled, ...
  placed_at   timestamptz NOT NULL
);
CREATE INDEX shop_orders_customer ON shop_orders (customer_id, placed_at);

CREATE TABLE shop_cases (
  case_no     text PRIMARY KEY,
  customer_id text NOT NULL REFERENCES shop_customers (id),
  title       text,
  body        text,
  state       text,                  -- open, pending, resolved, ...
  severity    text,                  -- low, medium, high, critical
  opened_at   timestamptz NOT NULL
);
CREATE INDEX shop_cases_customer ON shop_cases (customer_id, opened_at);

CREATE TABLE shop_facts (
  customer_id text NOT NULL REFERENCES shop_customers (id),
  name        text NOT NULL,
  value       text
);
CREATE INDEX shop_facts_customer ON shop_facts (customer_id);

-- 1. customer_contacts: one row per contact. id is required; the rest may be NULL.
CREATE VIEW customer_contacts AS
  SELECT id, full_name AS name, company_name AS company, job_title AS title, profile_url AS url, updated_at
  FROM shop_customers;

-- 2. customer_contact_points: a contact's phone numbers and emails, one per row.
--    kind is 'phone' or 'email'; contact_id, kind and value are required.
CREATE VIEW customer_contact_points AS
  SELECT customer_id AS contact_id, 'phone' AS kind, number AS value FROM shop_phones
  UNION ALL
  SELECT customer_id AS contact_id, 'email' AS kind, email AS value FROM shop_emails;

-- 3. customer_interactions: a contact's history. kind is your own word (order,
--    payment, case, ...) and is kept; id, contact_id and occurred_at are
--    required; subject, description, url, status and priority may be NULL.
--    id must be unique across the whole view (prefix it by kind when two
--    tables may share numbers).
CREATE VIEW customer_interactions AS
  SELECT 'order-' || order_no AS id, customer_id AS contact_id, 'order' AS kind,
         'Order ' || order_no AS subject, summary AS description, placed_at AS occurred_at,
         NULL AS url, state AS status, NULL AS priority
  FROM shop_orders
  UNION ALL
  SELECT 'case-' || case_no, customer_id, 'case', title, body, opened_at, NULL, state, severity
  FROM shop_cases;

-- 4. customer_attributes (optional): free-form facts for the agent's card.
CREATE VIEW customer_attributes AS
  SELECT customer_id AS contact_id, name, value FROM shop_facts;
