// Who may download a staff export: the staff member who started it, or an admin. The file
// holds supporters' data, so a campaigner cannot fetch another's export by its id.
import type pg from 'pg';
import { qb, StaffRole } from '../db/db.ts';
import { AppError, notFound } from '../shared/errors.ts';

/** Throws 404 `export_not_found` for an unknown id, 403 `not_your_export` for anyone else's export. */
export async function checkExportDownload(pool: pg.Pool, staff: { id: string; role: StaffRole }, id: string): Promise<void> {
  const owner = await qb(pool).selectFrom('export_jobs').select('staff_id').where('id', '=', id).executeTakeFirst();
  if (!owner) throw notFound('export_not_found', 'No export has this id');
  if (owner.staff_id !== staff.id && staff.role !== StaffRole.ADMIN) {
    throw new AppError(403, 'not_your_export', 'Only the staff member who started this export, or an admin, may download it');
  }
}
