using System.Text.Json.Serialization;
using SandboxRunner.Codex;
using SandboxRunner.Policy;

namespace SandboxRunner.Runs;

/// <summary>How a task ended; serialised as codex-mcp-runner's strings.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TaskStatus>))]
public enum TaskStatus
{
    /// <summary>Only in <c>run.json</c>, for a task that has not ended yet.</summary>
    [JsonStringEnumMemberName("queued")] Queued,
    [JsonStringEnumMemberName("success")] Success,
    [JsonStringEnumMemberName("failed")] Failed,
    [JsonStringEnumMemberName("timeout")] Timeout,
    [JsonStringEnumMemberName("skipped")] Skipped,
    [JsonStringEnumMemberName("cancelled")] Cancelled,
}

public static class TaskStatusNames
{
    /// <summary>The wire name (<c>success</c>, <c>failed</c>, ...).</summary>
    public static string Wire(this TaskStatus status) => Platform.WireName.Of(status);
}

public sealed record TaskLogs(
    [property: JsonPropertyName("stdout")] string Stdout,
    [property: JsonPropertyName("stderr")] string Stderr,
    [property: JsonPropertyName("tail")] string Tail,
    [property: JsonPropertyName("truncated")] bool Truncated)
{
    public static TaskLogs Empty { get; } = new("", "", "", false);
}

/// <summary>
/// The result of one task: every field of codex-mcp-runner's result, plus <c>usage</c> and <c>container_id</c>.
/// <c>files_changed</c> and <c>patch</c> come from the task's tree, never from what the agent said it did.
/// </summary>
public sealed record TaskResult
{
    [JsonPropertyName("task_id")] public required string TaskId { get; init; }
    [JsonPropertyName("status")] public required TaskStatus Status { get; init; }
    /// <summary>Always written, null when Codex did not exit (codex-mcp-runner's <c>number | null</c>).</summary>
    [JsonPropertyName("exit_code"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public int? ExitCode { get; init; }
    [JsonPropertyName("files_changed")] public IReadOnlyList<string> FilesChanged { get; init; } = [];
    /// <summary>The patch inline when it is small; past <c>patch_inline_limit</c> it is only in <see cref="PatchFile"/> and on the branch.</summary>
    [JsonPropertyName("patch")] public string Patch { get; init; } = "";

    /// <summary>The patch's size in bytes, whether inline or not.</summary>
    [JsonPropertyName("patch_bytes")] public long PatchBytes { get; init; }

    /// <summary>Where the whole patch is (<c>task.patch</c> in the task's run folder); null when there is none.</summary>
    [JsonPropertyName("patch_file")] public string? PatchFile { get; init; }

    /// <summary>True when <see cref="Patch"/> is empty because the patch is too large to inline.</summary>
    [JsonPropertyName("patch_truncated")] public bool PatchTruncated { get; init; }
    [JsonPropertyName("patch_applicable")] public bool PatchApplicable { get; init; }
    [JsonPropertyName("apply_check_log")] public string ApplyCheckLog { get; init; } = "";
    [JsonPropertyName("commands_run")] public IReadOnlyList<CommandRun> CommandsRun { get; init; } = [];
    [JsonPropertyName("evidence")] public string Evidence { get; init; } = "";
    [JsonPropertyName("logs")] public TaskLogs Logs { get; init; } = TaskLogs.Empty;
    [JsonPropertyName("workspace_path")] public string WorkspacePath { get; init; } = "";
    [JsonPropertyName("duration_ms")] public long DurationMs { get; init; }
    [JsonPropertyName("summary")] public string Summary { get; init; } = "";
    [JsonPropertyName("notes_for_manager")] public string NotesForManager { get; init; } = "";
    [JsonPropertyName("usage")] public CodexUsage Usage { get; init; } = CodexUsage.Zero;
    [JsonPropertyName("container_id")] public string? ContainerId { get; init; }

    /// <summary>Whether the patch also applies to the repository's HEAD at the end of the task (work may have landed meanwhile).</summary>
    [JsonPropertyName("applies_to_head")] public bool AppliesToHead { get; init; }

    [JsonPropertyName("violations")] public IReadOnlyList<Violation> Violations { get; init; } = [];

    /// <summary>Changed paths past the first 2,000 (listed in <c>files_changed.txt</c> in the task's folder), so the reply stays small.</summary>
    [JsonPropertyName("files_changed_omitted")] public int FilesChangedOmitted { get; init; }

    /// <summary>Violations past the first 200; any violation fails the task.</summary>
    [JsonPropertyName("violations_omitted")] public int ViolationsOmitted { get; init; }

    /// <summary>The branch holding the task's tree (<c>sandbox/&lt;run_id&gt;/&lt;task_id&gt;</c>), when it changed anything.</summary>
    [JsonPropertyName("branch")] public string? Branch { get; init; }

    [JsonPropertyName("network")] public NetworkReport? Network { get; init; }

    /// <summary>The model credential the task's requests carried: <c>api_key</c>, <c>chatgpt</c> or <c>none</c> (held by the egress proxy in deny).</summary>
    [JsonPropertyName("auth")] public string? Auth { get; init; }

    /// <summary>
    /// The environment the task runs in: a name of the config's <c>environments</c>, <c>default</c> (its
    /// <c>environment</c> section) or <c>none</c> (the plain Codex image); null in results written before environments existed.
    /// </summary>
    [JsonPropertyName("environment")] public string? Environment { get; init; }

    /// <summary>
    /// The runner's own checks of the harvested tree (the verify commands it ran, each command's exit code and
    /// output tail, and the task's changes to the verify inputs). A task whose agent succeeded but whose
    /// verification did not pass is <c>failed</c>. Null only in results written before verification existed.
    /// </summary>
    [JsonPropertyName("verification")] public Verification.VerificationReport? Verification { get; init; }

    /// <summary>Which attempt (1-8) this result is, in an attempt's own result of a task run with <c>attempts</c> over 1.</summary>
    [JsonPropertyName("attempt"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? Attempt { get; init; }

    /// <summary>For a task run with <c>attempts</c> over 1: the attempt whose result the other fields are (its <c>branch</c>, patch and verdict).</summary>
    [JsonPropertyName("best_attempt"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? BestAttempt { get; init; }

    /// <summary>For a task run with <c>attempts</c> over 1: every attempt, best first (see <see cref="AttemptRanking"/>).</summary>
    [JsonPropertyName("attempts"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<AttemptSummary>? Attempts { get; init; }

    /// <summary>
    /// The OCI runtime the task's container ran under (<c>runc</c>, <c>runsc</c> for gVisor, or another the engine lists);
    /// null in results written before runtimes were reported.
    /// </summary>
    [JsonPropertyName("runtime")] public string? Runtime { get; init; }

    /// <summary>The cluster node that ran the task's container (<c>backend: swarm</c>); left out on one engine.</summary>
    [JsonPropertyName("node"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Node { get; init; }
}

/// <summary>One attempt of a task, as the task's result lists it: enough to see why the best one was chosen.</summary>
public sealed record AttemptSummary(
    [property: JsonPropertyName("attempt")] int Attempt,
    [property: JsonPropertyName("rank")] int Rank,
    [property: JsonPropertyName("status")] TaskStatus Status,
    [property: JsonPropertyName("branch")] string? Branch,
    [property: JsonPropertyName("verification_status")] Verification.VerificationStatus VerificationStatus,
    [property: JsonPropertyName("violation_count")] int ViolationCount,
    [property: JsonPropertyName("changed_input_count")] int ChangedInputCount,
    [property: JsonPropertyName("patch_bytes")] long PatchBytes,
    [property: JsonPropertyName("summary")] string Summary);

/// <summary>The network a task had, and in <c>deny</c> the hosts it tried that the proxy refused, so a manager can widen the allowlist knowingly.</summary>
public sealed record NetworkReport(
    [property: JsonPropertyName("policy")] string Policy,
    [property: JsonPropertyName("allowlist")] IReadOnlyList<string> Allowlist,
    [property: JsonPropertyName("refused_hosts")] IReadOnlyList<string> RefusedHosts);

public sealed record RunResult
{
    [JsonPropertyName("run_id")] public required string RunId { get; init; }
    [JsonPropertyName("base_commit")] public required string BaseCommit { get; init; }
    [JsonPropertyName("results")] public required IReadOnlyList<TaskResult> Results { get; init; }
    [JsonPropertyName("total_duration_ms")] public long TotalDurationMs { get; init; }

    /// <summary>
    /// Why no task could start (an environment's image or setup failed), or null. Each task's notes say it too;
    /// this is for callers that branch on it (the command line's exit code), so it is not part of the tool's result.
    /// </summary>
    [JsonIgnore] public string? NotStarted { get; init; }
}
