/**
 * A login id (`prjemian@zap`, `jdoe`) as opposed to a person's name: no space, or user@host. Such a value is
 * shown whole and never split into first and last names.
 */
export function looksLikeLogin(name: string): boolean {
  const text = name.trim();
  return !/\s/.test(text) || /^[^\s@]+@[^\s@]+$/.test(text);
}
