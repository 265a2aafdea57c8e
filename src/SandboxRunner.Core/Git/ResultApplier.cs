using System.Text.Json.Serialization;
using LibGit2Sharp;

namespace SandboxRunner.Git;

public sealed record ApplyConflict(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("reason")] string Reason);

public sealed record ApplyOutcome(
    [property: JsonPropertyName("applied")] bool Applied,
    [property: JsonPropertyName("branch")] string Branch,
    [property: JsonPropertyName("files")] IReadOnlyList<string> Files,
    [property: JsonPropertyName("conflicts")] IReadOnlyList<ApplyConflict> Conflicts,
    [property: JsonPropertyName("message")] string Message);

/// <summary>
/// Brings a task's branch into the user's working tree and index like <c>git cherry-pick --no-commit</c>:
/// a three-way merge of the task's change (its base → its tree) onto HEAD. The merge is first computed in
/// memory (LibGit2Sharp); on any conflict, or when a path it would write has uncommitted changes or an
/// untracked file in the way, nothing is touched and the paths come back.
/// </summary>
public sealed class ResultApplier(GitCli git)
{
    public async Task<ApplyOutcome> ApplyAsync(HostRepository host, string branch, CancellationToken cancellationToken)
    {
        string mergedTree;
        string head;
        using (var repo = new Repository(host.CommonDir))
        {
            var tip = repo.Branches[branch]?.Tip ?? throw new InvalidOperationException($"branch {branch} does not exist");
            var onto = repo.Head.Tip ?? throw new InvalidOperationException("the repository has no HEAD commit to apply onto");
            var merge = repo.ObjectDatabase.CherryPickCommit(tip, onto, 0, new MergeTreeOptions { FailOnConflict = false, SkipReuc = true });
            if (merge.Status == MergeTreeStatus.Conflicts)
            {
                var conflicts = merge.Conflicts.Select(c => new ApplyConflict((c.Ours ?? c.Theirs ?? c.Ancestor).Path, "changed both on HEAD and by the task")).ToList();
                return new ApplyOutcome(false, branch, [], conflicts, $"{branch} conflicts with HEAD in {conflicts.Count} path(s); nothing was changed");
            }

            mergedTree = merge.Tree.Sha;
            head = onto.Sha;
        }

        var patch = await git.RunAsync(new GitCall(host.Root, ["diff", "--binary", "--full-index", "--no-renames", "--no-ext-diff", "--no-textconv", head, mergedTree]), cancellationToken);
        var names = await git.RunAsync(new GitCall(host.Root, ["diff", "--name-only", "-z", "--no-renames", head, mergedTree]), cancellationToken);
        var files = names.Text.Split('\0', StringSplitOptions.RemoveEmptyEntries);
        if (files.Length == 0)
        {
            return new ApplyOutcome(true, branch, [], [], $"{branch} changes nothing that HEAD does not already have");
        }

        var status = await git.RunAsync(new GitCall(host.Root, ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--", .. files.Select(f => ":(literal)" + f)]), cancellationToken);
        var dirty = status.Text.Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Where(e => e.Length > 3)
            .Select(e => new ApplyConflict(e[3..], e.StartsWith("??", StringComparison.Ordinal) ? "an untracked file is in the way" : "has uncommitted changes"))
            .ToList();
        if (dirty.Count > 0)
        {
            return new ApplyOutcome(false, branch, files, dirty, $"{dirty.Count} path(s) {branch} would write have local changes; commit or stash them first. Nothing was changed.");
        }

        await git.RunAsync(new GitCall(host.Root, ["apply", "--index", "--binary", "-"]) { Stdin = patch.Stdout }, cancellationToken);
        return new ApplyOutcome(true, branch, files, [], $"applied {branch} to the working tree and index ({files.Length} file(s)); review and commit it");
    }
}
