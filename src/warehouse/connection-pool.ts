import type { DuckDBConnection } from "@duckdb/node-api";

/**
 * A few connections on the warehouse, each used by one statement at a time: concurrent API requests run
 * side by side instead of queueing on the warehouse's main connection.
 */
export class ConnectionPool {
  private readonly idle: DuckDBConnection[] = [];
  private readonly waiting: Array<(connection: DuckDBConnection) => void> = [];

  constructor(private readonly all: DuckDBConnection[]) {
    this.idle.push(...all);
  }

  async use<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = this.idle.pop() ?? (await new Promise<DuckDBConnection>((resolve) => this.waiting.push(resolve)));
    try {
      return await work(connection);
    } finally {
      const next = this.waiting.shift();
      if (next) next(connection);
      else this.idle.push(connection);
    }
  }

  close(): void {
    for (const connection of this.all) connection.closeSync();
  }
}
