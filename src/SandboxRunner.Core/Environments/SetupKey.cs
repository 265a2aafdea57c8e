using System.Text;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Policy;
using SandboxRunner.Sandbox;

namespace SandboxRunner.Environments;

/// <summary>One entry of <c>git ls-tree</c>: mode (120000 for a link), type (blob, commit) and object id.</summary>
public sealed record TrackedEntry(string Mode, string Type, string Oid);

/// <summary>
/// What a setup's outcome depends on, hashed into the tag of the image that keeps it: the environment
/// image, the commands, the network they had, and the contents of the files <c>cache_keys</c> names at the
/// base commit (their blob ids, so nothing is read but the tree). An unchanged key reuses the setup; a
/// changed lock file, command or toolchain runs it again.
/// </summary>
public static class SetupKey
{
    /// <summary>Bounds on <c>git ls-tree</c>'s answer: a repository of a few hundred thousand files.</summary>
    private const long MaxTreeListingBytes = 256L << 20;

    public static string For(string environmentImage, EnvironmentSpec spec, IReadOnlyList<string> allowlist, IReadOnlyList<string> keyedBlobs)
    {
        var parts = new List<string> { "setup-v1", $"image={environmentImage}", $"network={spec.SetupNetwork}" };
        if (spec.SetupNetwork == SetupNetwork.Deny)
        {
            parts.AddRange(allowlist.Order(StringComparer.Ordinal).Select(h => $"allow={h}"));
        }

        parts.AddRange(spec.Setup.Select(c => $"run={c}"));
        parts.AddRange(keyedBlobs);
        return EnvironmentImages.Hash(parts);
    }

    /// <summary>Every tracked file at <paramref name="commit"/> with its blob id (links and submodules left out).</summary>
    public static async Task<IReadOnlyDictionary<string, string>> TrackedBlobsAsync(GitCli git, HostRepository repository, string commit, CancellationToken cancellationToken) =>
        Blobs(await TrackedAsync(git, repository, commit, cancellationToken));

    /// <summary>Every path <paramref name="commit"/> tracks (files, links, submodules) with its mode and object id.</summary>
    public static async Task<IReadOnlyDictionary<string, TrackedEntry>> TrackedAsync(GitCli git, HostRepository repository, string commit, CancellationToken cancellationToken)
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

        return entries;
    }

    /// <summary>The regular files of <paramref name="tracked"/> with their blob ids: what a cache key can name.</summary>
    public static IReadOnlyDictionary<string, string> Blobs(IReadOnlyDictionary<string, TrackedEntry> tracked) =>
        tracked.Where(e => e.Value.Type == "blob" && e.Value.Mode != "120000").ToDictionary(e => e.Key, e => e.Value.Oid, StringComparer.Ordinal);

    /// <summary>The files <paramref name="globs"/> match, as <c>path:blob</c> in path order.</summary>
    public static IReadOnlyList<string> Matching(IReadOnlyDictionary<string, string> files, IReadOnlyList<string> globs)
    {
        if (globs.Count == 0)
        {
            return [];
        }

        var policy = new PathPolicy(globs);
        return files.Keys.Where(policy.Allows).Order(StringComparer.Ordinal).Select(p => $"key={p}:{files[p]}").ToList();
    }

    /// <summary>The setup image's tag for a key.</summary>
    public static string Tag(string key) => $"sandbox-runner/setup:{key}";

    internal static IReadOnlyDictionary<string, string> Labels(string tag, string scope) => ImageRecipe.RunnerLabels(ImageRoles.Environment, tag, scope);

    internal static IReadOnlyList<string> AllowlistOf(RunnerConfig config) => config.EffectiveAllowlist;
}
