using System.Text;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Policy;
using SandboxRunner.Sandbox;

namespace SandboxRunner.Environments;

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
    public static async Task<IReadOnlyDictionary<string, string>> TrackedBlobsAsync(GitCli git, HostRepository repository, string commit, CancellationToken cancellationToken)
    {
        var listing = await git.RunAsync(new GitCall(repository.Root, ["ls-tree", "-r", "-z", "--full-tree", commit]) { MaxStdoutBytes = MaxTreeListingBytes }, cancellationToken);
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var record in Encoding.UTF8.GetString(listing.Stdout).Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            // "<mode> <type> <oid>\t<path>"
            var tab = record.IndexOf('\t');
            var meta = tab > 0 ? record[..tab].Split(' ') : [];
            if (meta.Length == 3 && meta[1] == "blob" && meta[0] != "120000")
            {
                files[record[(tab + 1)..]] = meta[2];
            }
        }

        return files;
    }

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
