/**
 * JSON shapes the emulator answers with, built the way GitHub documents them
 * (simple-user, minimal-repository, codespace-machine, codespace). Pure
 * functions: no state, no HTTP.
 */

export interface MachineSpec {
  name: string;
  cpus: number;
  memoryGb: number;
  storageGb: number;
}

/** The four standard Linux machine types (seed's live run, GitHub docs). */
export const STANDARD_MACHINES: readonly MachineSpec[] = [
  { name: "basicLinux32gb", cpus: 2, memoryGb: 8, storageGb: 32 },
  { name: "standardLinux32gb", cpus: 4, memoryGb: 16, storageGb: 32 },
  { name: "premiumLinux", cpus: 8, memoryGb: 32, storageGb: 64 },
  { name: "largePremiumLinux", cpus: 16, memoryGb: 64, storageGb: 128 },
];

const GIB = 1024 * 1024 * 1024;

export function machineSpec(name: string): MachineSpec | undefined {
  return STANDARD_MACHINES.find((m) => m.name === name);
}

export function machineJson(spec: MachineSpec): Record<string, unknown> {
  return {
    name: spec.name,
    display_name: `${spec.cpus} cores, ${spec.memoryGb} GB RAM, ${spec.storageGb} GB storage`,
    operating_system: "linux",
    storage_in_bytes: spec.storageGb * GIB,
    memory_in_bytes: spec.memoryGb * GIB,
    cpus: spec.cpus,
    prebuild_availability: null,
  };
}

export interface Account {
  login: string;
  id: number;
  type: "User" | "Organization";
}

function nodeId(prefix: string, id: number): string {
  return Buffer.from(`${prefix}${id}`).toString("base64");
}

/** GitHub's "simple-user" object. */
export function simpleUser(a: Account, base: string): Record<string, unknown> {
  const u = `${base}/users/${a.login}`;
  return {
    name: null,
    email: null,
    login: a.login,
    id: a.id,
    node_id: nodeId(a.type === "User" ? "04:User" : "012:Organization", a.id),
    avatar_url: `https://avatars.githubusercontent.com/u/${a.id}?v=4`,
    gravatar_id: "",
    url: u,
    html_url: `https://github.com/${a.login}`,
    followers_url: `${u}/followers`,
    following_url: `${u}/following{/other_user}`,
    gists_url: `${u}/gists{/gist_id}`,
    starred_url: `${u}/starred{/owner}{/repo}`,
    subscriptions_url: `${u}/subscriptions`,
    organizations_url: `${u}/orgs`,
    repos_url: `${u}/repos`,
    events_url: `${u}/events{/privacy}`,
    received_events_url: `${u}/received_events`,
    type: a.type,
    site_admin: false,
  };
}

/** GET /user: the private-user shape (a superset of simple-user). */
export function privateUser(a: Account, base: string, createdAt: string): Record<string, unknown> {
  return {
    ...simpleUser(a, base),
    name: a.login === "monalisa" ? "Mona Lisa Octocat" : a.login,
    company: null,
    blog: "",
    location: null,
    hireable: null,
    bio: null,
    twitter_username: null,
    public_repos: 1,
    public_gists: 0,
    followers: 0,
    following: 0,
    created_at: createdAt,
    updated_at: createdAt,
    private_gists: 0,
    total_private_repos: 0,
    owned_private_repos: 0,
    disk_usage: 0,
    collaborators: 0,
    two_factor_authentication: true,
    plan: { name: "pro", space: 976562499, private_repos: 9999, collaborators: 0 },
  };
}

export interface RepoFacts {
  id: number;
  name: string;
  fullName: string;
  owner: Account;
  private: boolean;
  defaultBranch: string;
  createdAt: string;
}

/** GitHub's "minimal-repository" object (what a codespace embeds). */
export function minimalRepository(r: RepoFacts, base: string): Record<string, unknown> {
  const u = `${base}/repos/${r.fullName}`;
  return {
    id: r.id,
    node_id: nodeId("010:Repository", r.id),
    name: r.name,
    full_name: r.fullName,
    owner: simpleUser(r.owner, base),
    private: r.private,
    html_url: `https://github.com/${r.fullName}`,
    description: `Emulated repository ${r.fullName}`,
    fork: false,
    url: u,
    archive_url: `${u}/{archive_format}{/ref}`,
    assignees_url: `${u}/assignees{/user}`,
    blobs_url: `${u}/git/blobs{/sha}`,
    branches_url: `${u}/branches{/branch}`,
    collaborators_url: `${u}/collaborators{/collaborator}`,
    comments_url: `${u}/comments{/number}`,
    commits_url: `${u}/commits{/sha}`,
    compare_url: `${u}/compare/{base}...{head}`,
    contents_url: `${u}/contents/{+path}`,
    contributors_url: `${u}/contributors`,
    deployments_url: `${u}/deployments`,
    downloads_url: `${u}/downloads`,
    events_url: `${u}/events`,
    forks_url: `${u}/forks`,
    git_commits_url: `${u}/git/commits{/sha}`,
    git_refs_url: `${u}/git/refs{/sha}`,
    git_tags_url: `${u}/git/tags{/sha}`,
    git_url: `git://github.com/${r.fullName}.git`,
    issue_comment_url: `${u}/issues/comments{/number}`,
    issue_events_url: `${u}/issues/events{/number}`,
    issues_url: `${u}/issues{/number}`,
    keys_url: `${u}/keys{/key_id}`,
    labels_url: `${u}/labels{/name}`,
    languages_url: `${u}/languages`,
    merges_url: `${u}/merges`,
    milestones_url: `${u}/milestones{/number}`,
    notifications_url: `${u}/notifications{?since,all,participating}`,
    pulls_url: `${u}/pulls{/number}`,
    releases_url: `${u}/releases{/id}`,
    ssh_url: `git@github.com:${r.fullName}.git`,
    stargazers_url: `${u}/stargazers`,
    statuses_url: `${u}/statuses/{sha}`,
    subscribers_url: `${u}/subscribers`,
    subscription_url: `${u}/subscription`,
    tags_url: `${u}/tags`,
    teams_url: `${u}/teams`,
    trees_url: `${u}/git/trees{/sha}`,
    hooks_url: `${u}/hooks`,
    visibility: r.private ? "private" : "public",
    default_branch: r.defaultBranch,
    created_at: r.createdAt,
    updated_at: r.createdAt,
    pushed_at: r.createdAt,
  };
}

/** GET /repos/{owner}/{repo}: a (reduced) full-repository object. */
export function fullRepository(
  r: RepoFacts,
  base: string,
  permissions: { admin: boolean; push: boolean; pull: boolean },
): Record<string, unknown> {
  return {
    ...minimalRepository(r, base),
    clone_url: `https://github.com/${r.fullName}.git`,
    svn_url: `https://github.com/${r.fullName}`,
    homepage: null,
    size: 108,
    stargazers_count: 0,
    watchers_count: 0,
    language: "TypeScript",
    has_issues: true,
    has_projects: true,
    has_downloads: true,
    has_wiki: true,
    has_pages: false,
    has_discussions: false,
    forks_count: 0,
    mirror_url: null,
    archived: false,
    disabled: false,
    open_issues_count: 0,
    license: null,
    allow_forking: true,
    is_template: false,
    topics: [],
    forks: 0,
    open_issues: 0,
    watchers: 0,
    permissions: { ...permissions, maintain: permissions.admin, triage: permissions.push },
    network_count: 0,
    subscribers_count: 1,
  };
}

const ADJECTIVES = [
  "bookish", "curly", "fluffy", "glorious", "humble", "jubilant", "literate", "miniature",
  "opulent", "potential", "reimagined", "scaling", "shiny", "silver", "sturdy", "symmetrical",
  "upgraded", "verbose", "vigilant", "zany",
];
const NOUNS = [
  "space", "engine", "adventure", "waddle", "garbanzo", "goggles", "computing", "carnival",
  "couscous", "doodle", "fishstick", "giggle", "lamp", "memory", "orbit", "palm-tree",
  "pancake", "potato", "robot", "trout",
];

/** A random display name in GitHub's "bookish space pancake" style. */
export function randomDisplayName(rand: () => number = Math.random): string {
  const pick = (xs: string[]) => xs[Math.floor(rand() * xs.length)] as string;
  return `${pick(ADJECTIVES)} ${pick(NOUNS)} ${pick(NOUNS)}`;
}

const ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";

export function randomAlnum(n: number, alphabet = ALNUM): string {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  let s = "";
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return s;
}

/** `<login>-<repo>-<10 random>`, lowercase, like `monalisa-octocat-hello-world-g4wpq6h95q`. */
export function codespaceName(login: string, repoName: string): string {
  const slug = `${login}-${repoName}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 48)
    .replace(/-$/, "");
  return `${slug}-${randomAlnum(10)}`;
}
