/** What both Worker handlers read their settings from: the Worker's [vars] and secrets. */

export type WorkerEnv = Record<string, string | undefined>;

/** The first of these settings that is set, as a line saying why a Worker cannot honour it. */
export function fileSettingProblem(settings: readonly (readonly [string, boolean])[]): string | undefined {
  const name = settings.find(([, set]) => set)?.[0];
  return name === undefined ? undefined : `${name} names a file, and a Worker has no files: unset it`;
}
