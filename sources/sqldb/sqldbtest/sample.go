package sqldbtest

// Sample is a small customer database over the contract's example tables:
//   - c-maria: Maria Garcia, +14155550142 and maria.garcia@northwindtraders.com
//     (the demo Intercom workspace's caller), two orders and a case, facts;
//   - c-maria-old: an older record with only her email, an order (joined to
//     her through the email);
//   - c-spelled: a contact whose number is stored as "(415) 555-0199";
//   - c-desk-1..4: four contacts sharing the switchboard +14155550100, and
//     c-desk-1 with its own direct line +14155550111;
//   - c-noreply: a contact with a blocked email.
const Sample = `
INSERT INTO shop_customers (id, full_name, company_name, job_title, profile_url, updated_at) VALUES
 ('c-maria', 'Maria Garcia', 'Northwind Traders', 'Operations Manager', 'https://crm.example.com/customers/c-maria', '2026-11-20T10:00:00Z'),
 ('c-maria-old', 'M. Garcia', NULL, NULL, NULL, '2025-01-05T09:00:00Z'),
 ('c-spelled', 'Sam Spelling', 'Acme', NULL, NULL, '2026-10-01T12:00:00Z'),
 ('c-desk-1', 'Dana Desk', 'Globex', NULL, NULL, '2026-11-01T08:00:00Z'),
 ('c-desk-2', 'Eli Desk', 'Globex', NULL, NULL, '2026-11-02T08:00:00Z'),
 ('c-desk-3', 'Fay Desk', 'Globex', NULL, NULL, '2026-11-03T08:00:00Z'),
 ('c-desk-4', 'Gus Desk', 'Globex', NULL, NULL, '2026-11-04T08:00:00Z'),
 ('c-noreply', 'No Reply', NULL, NULL, NULL, '2026-01-01T00:00:00Z');
INSERT INTO shop_phones (customer_id, number) VALUES
 ('c-maria', '+14155550142'),
 ('c-spelled', '(415) 555-0199'),
 ('c-desk-1', '+14155550100'), ('c-desk-2', '+14155550100'), ('c-desk-3', '+14155550100'), ('c-desk-4', '+14155550100'),
 ('c-desk-1', '+14155550111');
INSERT INTO shop_emails (customer_id, email) VALUES
 ('c-maria', 'Maria.Garcia@NorthwindTraders.com'),
 ('c-maria-old', 'maria.garcia@northwindtraders.com'),
 ('c-noreply', 'noreply@example.com');
INSERT INTO shop_orders (order_no, customer_id, summary, state, placed_at) VALUES
 ('1001', 'c-maria', '12 × espresso beans, 1 kg', 'delivered', '2026-11-18T15:30:00Z'),
 ('1002', 'c-maria', 'Grinder replacement blade', 'paid', '2026-11-21T09:15:00Z'),
 ('0900', 'c-maria-old', 'Starter kit', 'cancelled', '2025-01-05T09:00:00Z'),
 ('2001', 'c-desk-1', 'Office coffee subscription', 'shipped', '2026-11-02T10:00:00Z');
INSERT INTO shop_cases (case_no, customer_id, title, body, state, severity, opened_at) VALUES
 ('77', 'c-maria', 'Blade arrived damaged', 'The replacement blade was bent on arrival; customer wants a refund or a new one.', 'open', 'high', '2026-11-22T11:00:00Z');
INSERT INTO shop_facts (customer_id, name, value) VALUES
 ('c-maria', 'plan', 'Gold'), ('c-maria', 'balance', '$42.10'), ('c-maria', 'open_cases', '1');
`
