using System.Text;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Policy;
using SandboxRunner.Boxes;

namespace SandboxRunner.Environments;

/// <summary>One entry of <c>git ls-tree</c>: mode (120000 for a link), type (blob, commit) and object id.</summary>
public sealed record TrackedEntry(string Mode, string Type, string Oid);

/// <summary>
/// A run's base commit as environments see it: every path it tracks, and its lane. A commit in the history of
/// the repository's HEAD is in the <c>default</c> lane, whose images every such run may reuse; any other (an
/// agent's result branch a follow-up run is based on) gets a lane of its own, so what it builds never feeds
/// the runs on the default branch. It may still reuse a default-lane image whose key matches.
/// </summary>
public sealed record BaseTree(string Commit, bool OnHeadHistory, IReadOnlyDictionary<string, TrackedEntry> Tracked)
{
    public const string DefaultLane = "default";

    /// <summary>Bounds on <c>git ls-tree</c>'s answer: a repository of a few hundred thousand files.</summary>
    private const long MaxTreeListingBytes = 256L << 20;

    public string Lane => OnHeadHistory ? DefaultLane : $"commit:{Commit}";

    public static async Task<BaseTree> ReadAsync(GitCli git, HostRepository repository, string commit, CancellationToken cancellationToken)
    {
        var listing = await git.RunAsync(new GitCall(repository.Root, ["ls-tree", "-r", "-z", "--full-tree", commit]) { MaxStdoutBytes = MaxTreeListingBytes }, cancellationToken);
        var entries = new Dictionary<string, TrackedEntry>(StringComparer.Ordinal);
        foreach (var record in Encoding.UTF8.GetString(listing.Stdout).Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            // "<mode> <type> <oid>\t<path>"
            var tab = record.IndexOf('\t');
            var meta = tab > 0 ? record[..tab].Split(' ') : [];
            if (meta.Length == 3)
            {
                entries[record[(tab + 1)..]] = new TrackedEntry(meta[0], meta[1], meta[2]);
            }
        }

        return new BaseTree(commit, await repository.IsReachableFromHeadAsync(commit, cancellationToken), entries);
    }

    /// <summary>The regular files (links and submodules left out): what a cache key can name.</summary>
    public IEnumerable<TrackedPath> Files =>
        Tracked.Where(e => e.Value.Type == "blob" && e.Value.Mode != "120000").Select(e => new TrackedPath(e.Key, e.Value.Mode, e.Value.Oid));

    /// <summary>Every file and link: what a build context can hold.</summary>
    public IEnumerable<TrackedPath> Blobs =>
        Tracked.Where(e => e.Value.Type == "blob").Select(e => new TrackedPath(e.Key, e.Value.Mode, e.Value.Oid));
}

/// <summary>What a setup's outcome can depend on, and so what its key covers.</summary>
/// <param name="Scope">The repository (<see cref="Labels.ScopeOf"/>): a setup image is never another repository's.</param>
/// <param name="EnvironmentImageId">The id of the image setup runs in.</param>
/// <param name="View">The files setup sees: those <c>cache_keys</c> matches at the base commit, and nothing else.</param>
public sealed record SetupInputs(string Scope, string EnvironmentImageId, EnvironmentSpec Spec, IReadOnlyList<string> Allowlist, IReadOnlyList<TrackedPath> View);

/// <summary>
/// The key of a setup image. Setup sees only the files its key covers, as a Dockerfile build sees only its
/// context: its workspace holds just the files <c>cache_keys</c> matches at the base commit (by default the
/// ecosystems' manifests and lock files). The key hashes their paths, modes and blob ids, the repository, the
/// environment image's id, the commands, the network setting (and the allowlist under <c>deny</c>) and the lane
/// (<see cref="BaseTree.Lane"/>): an unchanged key reuses the setup; anything setup could have read or run
/// differently makes a new one.
/// </summary>
public static class SetupKey
{
    /// <summary>
    /// Used when <c>cache_keys</c> is absent: the manifests and lock files package managers install from, at any
    /// depth (workspaces, solutions of several projects). Only those that exist at the base commit are seen.
    /// </summary>
    public static readonly IReadOnlyList<string> DefaultCacheKeys =
    [
        // Node
        "**/package.json", "**/package-lock.json", "**/npm-shrinkwrap.json", "**/yarn.lock", "**/pnpm-lock.yaml",

        // .NET
        "**/*.csproj", "**/*.fsproj", "**/*.sln", "**/*.slnx", "**/Directory.*.props", "**/Directory.*.targets",
        "**/NuGet.config", "**/nuget.config", "**/NuGet.Config", "**/global.json", "**/packages.lock.json",

        // Python
        "**/requirements*.txt", "**/pyproject.toml", "**/poetry.lock", "**/uv.lock", "**/Pipfile", "**/Pipfile.lock", "**/setup.py", "**/setup.cfg",

        // Go, Rust, Ruby
        "**/go.mod", "**/go.sum", "**/Cargo.toml", "**/Cargo.lock", "**/Gemfile", "**/Gemfile.lock",
    ];

    /// <summary>More than this in the files setup sees is refused: cache keys name manifests and lock files, not the repository.</summary>
    public const long MaxViewBytes = 256L << 20;

    public static IReadOnlyList<string> CacheKeysOf(EnvironmentSpec spec) => spec.CacheKeys ?? DefaultCacheKeys;

    /// <summary>The files setup sees: the regular files <paramref name="spec"/>'s cache keys match at the base commit, in path order.</summary>
    public static IReadOnlyList<TrackedPath> View(BaseTree tree, EnvironmentSpec spec)
    {
        var globs = CacheKeysOf(spec);
        if (globs.Count == 0)
        {
            return [];
        }

        var policy = new PathPolicy(globs);
        return tree.Files.Where(f => policy.Allows(f.Path)).OrderBy(f => f.Path, StringComparer.Ordinal).ToList();
    }

    /// <summary>The explicit cache keys that match no file at the base commit, by index: a key that names nothing is a mistake.</summary>
    public static IReadOnlyList<(int Index, string Glob)> Unmatched(BaseTree tree, EnvironmentSpec spec)
    {
        if (spec.CacheKeys is not { Count: > 0 } globs)
        {
            return [];
        }

        var files = tree.Files.Select(f => f.Path).ToList();
        return globs.Select((glob, i) => (i, glob)).Where(k => !files.Any(new PathPolicy([k.glob]).Allows)).ToList();
    }

    public static string UnmatchedRule(string glob, string commit) =>
        $"'{glob}' matches no file of the repository at {commit[..12]}; setup sees only the files its cache keys match, so each must name one: fix the glob, commit the file, or remove the entry";

    public static string For(SetupInputs inputs, string lane)
    {
        var spec = inputs.Spec;
        var parts = new List<string> { "setup-v2", $"scope={inputs.Scope}", $"lane={lane}", $"image={inputs.EnvironmentImageId}", $"network={spec.SetupNetwork}" };
        if (spec.SetupNetwork == SetupNetwork.Deny)
        {
            parts.AddRange(inputs.Allowlist.Order(StringComparer.Ordinal).Select(h => $"allow={h}"));
        }

        parts.AddRange(spec.Setup.Select(c => $"run={c}"));
        parts.AddRange(inputs.View.Select(f => $"file={f.Mode} {f.Oid} {f.Path}"));
        return EnvironmentImages.Hash(parts);
    }

    /// <summary>The setup image's tag for a key.</summary>
    public static string Tag(string key) => $"sandbox-runner/setup:{key}";

    /// <summary>
    /// The setup image a run on <paramref name="tree"/> may use: the default lane's when it exists (every run may
    /// reuse it), else its own lane's when it exists; null when setup must run, into <see cref="OwnTag"/>.
    /// </summary>
    public static async Task<string?> FindAsync(IBoxImages images, SetupInputs inputs, BaseTree tree, CancellationToken cancellationToken)
    {
        var shared = Tag(For(inputs, BaseTree.DefaultLane));
        if (await images.InspectAsync(shared, cancellationToken) is not null)
        {
            return shared;
        }

        var own = OwnTag(inputs, tree);
        return own != shared && await images.InspectAsync(own, cancellationToken) is not null ? own : null;
    }

    /// <summary>Where a setup run on <paramref name="tree"/> is kept: its own lane.</summary>
    public static string OwnTag(SetupInputs inputs, BaseTree tree) => Tag(For(inputs, tree.Lane));

    /// <summary>How the config names an environment's fields: <c>environment</c> for <c>default</c>, else <c>environments.NAME</c>.</summary>
    public static string FieldOf(string name) => name == RunnerConfig.DefaultEnvironment ? "environment" : $"environments.{name}";

    internal static IReadOnlyDictionary<string, string> Labels(string tag, string scope) => ImageRecipe.RunnerLabels(ImageRoles.Environment, tag, scope);
}
