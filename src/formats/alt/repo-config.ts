// The `.repo` config text (alt.md §2.1): dnf syntax that Forgejo copied from its RPM registry.
// apt-rpm ignores it; it is kept byte for byte.

export interface RepoConfigInput {
  /** The owner's canonical name, as the forge spells it. */
  readonly owner: string;
  readonly appName: string;
  /** Stowage's PUBLIC_URL, ending with `/`. */
  readonly rootUrl: string;
  /** The group path as written in the URL, split on `/` (`["alt"]` for `alt/alt.repo`). */
  readonly parts: readonly string[];
}

/** Four lines joined by LF, with no trailing newline. */
export function formatRepoConfig(c: RepoConfigInput): string {
  const each = (prefix: string) => c.parts.map((p) => `${prefix}${p}`).join('');
  return [
    `[gitea-${c.owner.toLowerCase()}${each('-')}]`,
    `name=${c.owner} - ${c.appName}${each(' - ')}`,
    `baseurl=${c.rootUrl}api/packages/${c.owner}/alt${each('/')}`,
    'enabled=1',
  ].join('\n');
}
