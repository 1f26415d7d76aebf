-- The fencing marker (DESIGN.md §3): per partition, the highest outbox
-- sequence number (an event's q) written through, and that event. Written in
-- the same transaction as the rows of the batch it ends, and only forward. A
-- Redis whose partition's seq is below it is behind PostgreSQL (an older AOF,
-- a promoted lagging replica): the engine fences the partition.
create table partition_marks (
  partition integer primary key check (partition >= 0),
  seq       bigint not null check (seq >= 1),
  event_id  text not null
);
