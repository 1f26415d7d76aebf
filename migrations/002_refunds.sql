-- Refunds of captures that no order can honour: a charge that landed after its
-- hold was released (a provider that ignored the void of an overdue payment).
-- Written through from the `refund` outbox event; one per reservation.
create table refunds (
  reservation_id text primary key,
  user_id        text not null,
  amount_cents   bigint not null check (amount_cents >= 0),
  reference      text not null,
  reason         text not null,
  refunded_at    timestamptz not null,
  event_id       text not null unique
);
