using System.Text;
using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Policy;

namespace SandboxRunner.Runs;

/// <summary>What the harvest of one task starts from.</summary>
public sealed record HarvestInput(
    string RunId,
    string TaskId,
    Worktree Worktree,
    TaskLimits Limits,
    Redactor Redactor,
    TaskEnd End,
    CodexTranscript Transcript)
{
    public long? ExitCode { get; init; }

    /// <summary>Which attempt of the task this is (its patch file and branch are the attempt's); null for a task run once.</summary>
    public int? Attempt { get; init; }

    public string? LimitPassed { get; init; }
    public string? RunnerError { get; init; }
    public int OversizedLines { get; init; }

    /// <summary>A passed secret the task printed in an encoded form, as "NAME (encoding)".</summary>
    public string? SecretInOutput { get; init; }

    /// <summary>Copy transport: entries of the container's tree that were not written on the host, and why.</summary>
    public IReadOnlyList<TreeFinding> CopyFindings { get; init; } = [];

    /// <summary>Copy transport: the limit the tree passed while it was copied out; the tree is then not harvested.</summary>
    public string? CopyOverLimit { get; init; }
}

/// <summary>
/// Harvest and persist, the first two stages of every task (fresh or recovered): reads what the task
/// left with bounded, deadline-bound calls, writes the patch into the run folder and the tree onto the
/// result branch, and returns the facts for the judge. Each step that fails is recorded as a problem
/// and the others still run, so one bad step never costs the task its other results.
/// </summary>
public sealed class Harvester(HostRepository repository, RunStore store, TimeProvider clock)
{
    private const int SecretScanChunk = 1024 * 1024;
    private const int SecretScanOverlap = 64 * 1024;

    public async Task<TaskFacts> HarvestAsync(HarvestInput input, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var worktree = input.Worktree;
        var patchFile = store.PatchFile(input.RunId, input.TaskId, input.Attempt);
        Directory.CreateDirectory(Path.GetDirectoryName(patchFile)!);

        var changes = TreeChanges.None;
        if (input.CopyOverLimit is { } over)
        {
            changes = TreeChanges.None with { OverLimit = over };
        }
        else if (Directory.Exists(worktree.WorkPath))
        {
            changes = await Step(problems, "reading the task's tree", () => worktree.CollectChangesAsync(input.Limits, patchFile, cancellationToken)) ?? TreeChanges.None;
        }
        else
        {
            problems.Add("the task's tree is missing; nothing could be read from it");
        }

        if (input.CopyFindings.Count > 0)
        {
            changes = changes with { Findings = [.. input.CopyFindings, .. changes.Findings] };
        }

        var settings = await Step(problems, "reading the task's git settings", () => Task.FromResult(worktree.ChangedGitSettings())) ?? [];

        string? branch = null;
        string? branchCommit = null;
        if (changes.Entries.Count > 0)
        {
            var name = ResultBranch.NameFor(input.RunId, input.TaskId, input.Attempt);
            var what = input.Attempt is { } k ? $"{input.TaskId}, attempt {k}" : input.TaskId;
            var result = input.Attempt is { } a ? $"{input.TaskId}/attempts/{a}" : input.TaskId;

            // The message is the runner's own: nothing the agent wrote reaches a commit message.
            var message = $"{input.TaskId}: harvested by sandbox-runner\n\nRun {input.RunId}, task {what}. Status and review: .codex-runs/{input.RunId}/tasks/{result}/result.json";
            branch = await Step(problems, $"keeping the tree on branch {name}", () =>
            {
                branchCommit = ResultBranch.Commit(repository, worktree, changes, name, message, clock.GetUtcNow());
                return Task.FromResult<string?>(name);
            });
        }

        var secret = changes.PatchFile is { } file
            ? await Step(problems, "scanning the patch for passed secrets", () => FindSecretAsync(file, input.Redactor, cancellationToken))
            : null;

        var onBase = await Step(problems, "checking the patch against the base commit", () => worktree.CheckAppliesAsync(changes.PatchFile, worktree.BaseCommit, cancellationToken))
            ?? new ApplyCheck(false, "not checked");
        ApplyCheck? onHead = null;
        var head = await Step(problems, "resolving HEAD", () => repository.ResolveCommitAsync("HEAD", cancellationToken));
        if (head is not null && head != worktree.BaseCommit)
        {
            var check = await Step(problems, "checking the patch against HEAD", () => worktree.CheckAppliesAsync(changes.PatchFile, head, cancellationToken))
                ?? new ApplyCheck(false, "not checked");
            onHead = check with { Log = $"HEAD {head[..12]}: {check.Log}" };
            onBase = onBase with { Log = $"base_ref {worktree.BaseCommit[..12]}: {onBase.Log}" };
        }

        return new TaskFacts
        {
            TaskId = input.TaskId,
            End = input.End,
            ExitCode = input.ExitCode,
            LimitPassed = input.LimitPassed,
            RunnerError = input.RunnerError,
            Transcript = input.Transcript,
            OversizedLines = input.OversizedLines,
            Changes = changes,
            GitSettingsChanged = settings,
            ReadLink = PathPolicy.DiskLinks(worktree.WorkPath),
            SecretInPatch = secret,
            SecretInOutput = input.SecretInOutput,
            OnBase = onBase,
            OnHead = onHead,
            Branch = branch,
            BranchCommit = branch is null ? null : branchCommit,
            HarvestProblems = problems,
        };
    }

    /// <summary>Runs one step; a failure becomes a problem naming the step, and the harvest goes on.</summary>
    private static async Task<T?> Step<T>(List<string> problems, string what, Func<Task<T>> step)
    {
        try
        {
            return await step();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            problems.Add($"{what} failed: {e.Message}");
            return default;
        }
    }

    /// <summary>Streams the patch file in overlapping chunks: a large patch is never held whole.</summary>
    private static async Task<string?> FindSecretAsync(string patchFile, Redactor redactor, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(patchFile, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true);
        var buffer = new byte[SecretScanChunk + SecretScanOverlap];
        var kept = 0;
        while (true)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(kept, SecretScanChunk), cancellationToken);
            if (read == 0)
            {
                return null;
            }

            var filled = kept + read;
            if (redactor.FindKnownSecret(Encoding.UTF8.GetString(buffer, 0, filled)) is { } name)
            {
                return name;
            }

            kept = Math.Min(SecretScanOverlap, filled);
            Buffer.BlockCopy(buffer, filled - kept, buffer, 0, kept);
        }
    }
}
