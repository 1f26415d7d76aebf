-- The system of record. Every write is idempotent: the outbox may deliver an
-- event more than once, so each row has a natural unique key and writers use
-- ON CONFLICT DO NOTHING.

create table products (
  sku            text primary key,
  name           text not null,
  price_cents    bigint not null check (price_cents >= 0),
  per_user_limit integer not null default 0 check (per_user_limit >= 0),
  created_at     timestamptz not null
);

-- Every change of a SKU's total: the initial stock, restocks and shrinks.
create table stock_ledger (
  event_id  text primary key,            -- the outbox entry id: '<partition>:<stream id>'
  sku       text not null references products (sku),
  delta     bigint not null,
  total     bigint not null check (total >= 0),
  at        timestamptz not null
);
create index stock_ledger_sku on stock_ledger (sku, at);

-- An order is written from the outbox events of its reservation's commit: one
-- per partition the cart spans. The home part's event writes the order row and
-- its payment; every part's event writes its items and an order_parts row. An
-- order is complete (and shown) once all part_count parts are written.
create table orders (
  id             text primary key,
  reservation_id text not null unique,
  user_id        text not null,
  total_cents    bigint not null check (total_cents >= 0),
  part_count     integer not null check (part_count >= 1),
  created_at     timestamptz not null,           -- commit time (Redis clock)
  written_at     timestamptz not null default now()
);
create index orders_user on orders (user_id, created_at desc, id);

create table order_parts (
  order_id   text not null,
  part       integer not null,                    -- the partition
  event_id   text not null unique,
  written_at timestamptz not null default now(),
  primary key (order_id, part)
);

create table order_items (
  order_id    text not null,
  sku         text not null references products (sku),
  qty         integer not null check (qty > 0),
  price_cents bigint not null check (price_cents >= 0),
  primary key (order_id, sku)
);
create index order_items_sku on order_items (sku);

create table payments (
  order_id      text primary key references orders (id),
  amount_cents  bigint not null check (amount_cents >= 0),
  status        text not null check (status in ('captured', 'refunded')),
  reference     text not null,
  captured_at   timestamptz not null
);
