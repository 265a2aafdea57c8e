using LibGit2Sharp;

namespace SandboxRunner.Git;

/// <summary>
/// Keeps a task's tree on the host as a commit on <c>sandbox/&lt;run_id&gt;/&lt;task_id&gt;</c> (parent: the
/// base commit), so the work outlives the task folder and plain git can merge, cherry-pick or diff it.
/// Written with LibGit2Sharp, which runs no hooks, and without touching the user's working tree, index
/// or current branch. Blobs come from the runner's own git directory for the task, where the diff put
/// them, so nothing is read through the agent's symlinks.
/// </summary>
public static class ResultBranch
{
    public static string NameFor(string runId, string taskId) => $"sandbox/{runId}/{taskId}";

    /// <summary>
    /// An attempt's branch, <c>sandbox/&lt;run_id&gt;/&lt;task_id&gt;/&lt;k&gt;</c>. A task with attempts has no branch of
    /// its own: git cannot hold both <c>sandbox/r/t</c> and <c>sandbox/r/t/1</c>.
    /// </summary>
    public static string NameFor(string runId, string taskId, int? attempt) =>
        attempt is { } k ? $"sandbox/{runId}/{taskId}/{k.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : NameFor(runId, taskId);

    /// <summary>Commits the changed entries on top of the base commit and points the branch at it; returns the commit id.</summary>
    public static string Commit(HostRepository host, Worktree worktree, TreeChanges changes, string branch, string message, DateTimeOffset when)
    {
        using var source = new Repository(worktree.ObjectSource);
        using var target = new Repository(host.CommonDir);
        var baseCommit = target.Lookup<Commit>(worktree.BaseCommit)
            ?? throw new InvalidOperationException($"base commit {worktree.BaseCommit} is missing from {host.Root}");

        var tree = TreeDefinition.From(baseCommit.Tree);
        foreach (var entry in changes.Entries)
        {
            if (entry.IsDeleted)
            {
                tree.Remove(entry.Path);
                continue;
            }

            if (entry.IsGitlink)
            {
                // A nested repository: its content is not in this tree and is reported as a violation.
                continue;
            }

            tree.Add(entry.Path, target.Lookup<Blob>(entry.NewBlob) ?? CopyBlob(source, target, entry.NewBlob), ModeOf(entry.NewMode));
        }

        var signature = new Signature("Codex (sandbox-runner)", "codex@sandbox-runner.invalid", when);
        var commit = target.ObjectDatabase.CreateCommit(signature, signature, message, target.ObjectDatabase.CreateTree(tree), [baseCommit], prettifyMessage: true);
        // Only this task's own harvest ever writes its branch (a run id whose branches survive is never
        // reused); a server killed between keeping the branch and writing the result harvests again.
        target.Refs.Add("refs/heads/" + branch, commit.Id, allowOverwrite: true);
        return commit.Sha;
    }

    /// <summary>Whether any <c>sandbox/&lt;run_id&gt;/</c> branch exists: a run id whose work survived pruning is not reused.</summary>
    public static bool AnyFor(HostRepository host, string runId)
    {
        using var repo = new Repository(host.CommonDir);
        return repo.Refs.FromGlob($"refs/heads/sandbox/{runId}/*").Any();
    }

    /// <summary>Deletes the run's branches that the current branch already contains; unmerged work stays.</summary>
    public static IReadOnlyList<string> PruneMerged(HostRepository host, string runId)
    {
        using var repo = new Repository(host.CommonDir);
        var head = repo.Head.Tip;
        var pruned = new List<string>();
        foreach (var reference in repo.Refs.FromGlob($"refs/heads/sandbox/{runId}/*").ToList())
        {
            var tip = repo.Lookup<Commit>(reference.TargetIdentifier);
            if (head is not null && tip is not null && repo.ObjectDatabase.FindMergeBase(tip, head)?.Sha == tip.Sha)
            {
                repo.Refs.Remove(reference);
                pruned.Add(reference.CanonicalName);
            }
        }

        return pruned;
    }

    private static Blob CopyBlob(Repository source, Repository target, string id)
    {
        var blob = source.Lookup<Blob>(id) ?? throw new InvalidOperationException($"blob {id} is missing from the task's git directory");
        using var content = blob.GetContentStream();
        var copy = target.ObjectDatabase.CreateBlob(content);
        return copy.Sha == id ? copy : throw new InvalidOperationException($"blob {id} changed while it was copied");
    }

    private static Mode ModeOf(string mode) => mode switch
    {
        "100755" => Mode.ExecutableFile,
        "120000" => Mode.SymbolicLink,
        _ => Mode.NonExecutableFile,
    };
}
