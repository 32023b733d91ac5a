// A pool of one connection whose every statement PostgreSQL explains as it runs (auto_explain,
// with the statements inside SQL functions), for tests that check how a statement is planned
// under statistics that do not match the data: the plans arrive as notices.
import pg from 'pg';

export interface Explained {
  pool: pg.Pool;
  /** the plans seen since the last reset, as auto_explain wrote them */
  plans(): string[];
  reset(): void;
  /**
   * the most rows any plan node read and dropped (a filter applied after an index or a table
   * scan, or a join's filter); a filter over a statement's own rows (a CTE scan of its input) reads no table
   */
  mostDropped(): { rows: number; plan: string };
  end(): Promise<void>;
}

export function explainedPool(databaseUrl: string): Explained {
  let plans: string[] = [];
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  pool.on('connect', (client) => {
    client.on('notice', (n) => plans.push(n.message ?? ''));
    // queued before any query a test sends on this connection
    void client.query(
      `LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on;
       SET auto_explain.log_timing = off; SET auto_explain.log_nested_statements = on; SET auto_explain.log_level = notice`,
    );
  });
  return {
    pool,
    plans: () => plans,
    reset: () => {
      plans = [];
    },
    mostDropped() {
      let worst = { rows: 0, plan: '' };
      for (const plan of plans) {
        let node = '';
        for (const line of plan.split('\n')) {
          if (/^\s*(?:->\s+)?[A-Z][\w ]+(?: on | using | {2}\(cost)/.test(line) && !/^\s*(?:Filter|Join Filter|Index Cond|Hash Cond|Rows Removed)/.test(line)) node = line;
          const m = /Rows Removed by (Filter|Join Filter|Index Recheck): (\d+)/.exec(line);
          if (!m || (m[1] === 'Filter' && /CTE Scan on /.test(node))) continue;
          if (Number(m[2]) > worst.rows) worst = { rows: Number(m[2]), plan };
        }
      }
      return worst;
    },
    end: () => pool.end(),
  };
}

/**
 * The rows each plan node that reads `table` produced, times the times it ran: what a statement
 * read of the table in all (a scan run again for every row of another shows here).
 */
export function rowsRead(plans: string[], table: string): { rows: number; line: string }[] {
  const out: { rows: number; line: string }[] = [];
  const node = new RegExp(`Scan(?: using \\S+)? on ${table} \\w+ .*\\(actual rows=(\\d+) loops=(\\d+)\\)`);
  for (const plan of plans) {
    for (const line of plan.split('\n')) {
      const m = node.exec(line);
      if (m) out.push({ rows: Number(m[1]) * Number(m[2]), line: line.trim() });
    }
  }
  return out;
}
