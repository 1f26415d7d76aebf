/**
 * One command per partition, each on its own partition's keys, sent together:
 * a client with autopipelining writes them at once, and on Redis Cluster each
 * goes to the node that owns its partition (a pipeline whose keys span slots is
 * refused there).
 */
export function perPartition<T>(partitions: number, command: (partition: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: partitions }, (_, p) => command(p)));
}
