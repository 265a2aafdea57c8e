namespace SandboxRunner.Git;

/// <summary>One changed path as <c>git diff --raw</c> reports it: the new mode and blob ("000000" modes and a zero id when deleted).</summary>
public sealed record ChangedEntry(string Path, char Status, string OldMode, string NewMode, string NewBlob)
{
    public bool IsDeleted => Status == 'D';
    public bool IsGitlink => NewMode == "160000";
}

/// <summary>
/// Which paths a task changed and the patch that makes the change, both read from its tree. The patch is
/// in <see cref="PatchFile"/> (null when there is none, or it passed <c>max_patch_bytes</c>); the blobs of
/// every entry are in the runner's git directory for the tree, ready for the result branch.
/// </summary>
public sealed record TreeChanges(
    IReadOnlyList<ChangedEntry> Entries,
    string? PatchFile,
    long PatchBytes,
    string Warnings,
    IReadOnlyList<TreeFinding> Findings,
    string? OverLimit = null)
{
    public IReadOnlyList<string> Files => Entries.Select(e => e.Path).ToList();

    public static TreeChanges None { get; } = new([], null, 0, "", []);
}

public sealed record ApplyCheck(bool Applies, string Log);
