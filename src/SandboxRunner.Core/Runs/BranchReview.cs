using LibGit2Sharp;
using SandboxRunner.Git;
using SandboxRunner.Policy;

namespace SandboxRunner.Runs;

/// <summary>
/// Judges a result branch's content again, from the commit itself, before it touches a working tree:
/// the stored verdict may predate the current policy, or belong to a recovered task, and the branch is
/// what would be applied. Paths, symlink targets (read from the commit's blobs) and nested repositories
/// are checked; nothing is checked out or executed.
/// </summary>
public static class BranchReview
{
    private const int MaxLinkBytes = 4096;

    public static IReadOnlyList<Violation> Check(HostRepository host, string branch, IReadOnlyList<IReadOnlyList<string>> allowedPathSets)
    {
        using var repo = new Repository(host.CommonDir);
        var tip = repo.Branches[branch]?.Tip ?? throw new InvalidOperationException($"branch {branch} does not exist");
        var parent = tip.Parents.FirstOrDefault();
        var changes = repo.Diff.Compare<LibGit2Sharp.TreeChanges>(parent?.Tree, tip.Tree, new CompareOptions { Similarity = SimilarityOptions.None });
        var paths = changes.Select(c => c.Status == ChangeKind.Deleted ? c.OldPath : c.Path).Distinct(StringComparer.Ordinal).ToList();
        string? ReadLink(string path)
        {
            var entry = tip[path];
            if (entry is null || entry.Mode != Mode.SymbolicLink || entry.Target is not Blob blob || blob.Size > MaxLinkBytes)
            {
                return null;
            }

            return blob.GetContentText();
        }

        var violations = new List<Violation>();
        foreach (var allowed in allowedPathSets)
        {
            violations.AddRange(new PathPolicy(allowed).Check(paths, ReadLink));
        }

        violations.AddRange(changes.Where(c => c.Mode == Mode.GitLink).Select(c =>
            Violation.ForPath(ViolationKind.NestedRepository, c.Path, "is a nested git repository; its content cannot be part of the patch")));
        return violations.DistinctBy(v => (v.Kind, v.Path, v.Rule)).ToList();
    }
}
