using System.Text.Json.Serialization;

namespace SandboxRunner.Verification;

/// <summary>How a task's verification, or one of its commands, came out; serialised as lowercase strings.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<VerificationStatus>))]
public enum VerificationStatus
{
    /// <summary>Every verify command exited 0.</summary>
    [JsonStringEnumMemberName("passed")] Passed,

    /// <summary>A command exited non-zero, or was stopped at one of the task's limits.</summary>
    [JsonStringEnumMemberName("failed")] Failed,

    /// <summary>A command passed its <c>verify_timeout_sec</c> and was killed.</summary>
    [JsonStringEnumMemberName("timed_out")] TimedOut,

    /// <summary>Not run: none configured, the agent did not end on its own, the harvest failed, or the run was cancelled; <c>reason</c> says which.</summary>
    [JsonStringEnumMemberName("not_run")] NotRun,
}

public static class VerificationStatusNames
{
    public static string Wire(this VerificationStatus status) => Platform.WireName.Of(status);
}

/// <summary>One verify command as the runner ran it: its exit code from the engine, how long it took, and the end of its output.</summary>
public sealed record VerifyCommandReport(
    [property: JsonPropertyName("command")] string Command,
    [property: JsonPropertyName("status")] VerificationStatus Status,
    [property: JsonPropertyName("exit_code")] long? ExitCode,
    [property: JsonPropertyName("duration_ms")] long DurationMs,
    [property: JsonPropertyName("output_tail")] string OutputTail);

/// <summary>
/// The verdict of the runner's own checks on a task's harvested tree. <see cref="Status"/> is what a manager
/// tests; a task whose agent succeeded but whose verification did not pass ends <c>failed</c>.
/// <see cref="ChangedInputs"/> names the task's changes to what the verify commands depend on (see
/// <see cref="VerifyInputs"/>): reported, never failing a task by itself.
/// </summary>
public sealed record VerificationReport
{
    /// <summary>At most this many changed inputs are listed; the rest are counted.</summary>
    public const int MaxChangedInputsShown = 200;

    [JsonPropertyName("status")] public required VerificationStatus Status { get; init; }

    /// <summary>Why it did not pass or did not run, in a sentence; null when it passed.</summary>
    [JsonPropertyName("reason")] public string? Reason { get; init; }

    [JsonPropertyName("commands")] public IReadOnlyList<VerifyCommandReport> Commands { get; init; } = [];

    [JsonPropertyName("changed_inputs")] public IReadOnlyList<string> ChangedInputs { get; init; } = [];

    [JsonPropertyName("changed_inputs_omitted")] public int ChangedInputsOmitted { get; init; }

    /// <summary>From the verification container's creation to its removal.</summary>
    [JsonPropertyName("duration_ms")] public long DurationMs { get; init; }

    /// <summary>The first command that did not pass, when one did not.</summary>
    [JsonIgnore]
    public VerifyCommandReport? FirstFailure => Commands.FirstOrDefault(c => c.Status is VerificationStatus.Failed or VerificationStatus.TimedOut);

    /// <summary>What a task with no verify commands reports.</summary>
    public static VerificationReport NotConfigured { get; } = new() { Status = VerificationStatus.NotRun, Reason = "no verify commands are configured" };

    /// <summary>Verification that did not run, with every command listed as not run.</summary>
    public static VerificationReport NotRun(VerifyPlan plan, string reason, IReadOnlyList<string> changedFiles) => new VerificationReport
    {
        Status = VerificationStatus.NotRun,
        Reason = reason,
        Commands = plan.Commands.Select(c => new VerifyCommandReport(c, VerificationStatus.NotRun, null, 0, "")).ToList(),
    }.WithChangedInputs(plan, changedFiles);

    /// <summary>This report with the task's changes to the verify inputs (see <see cref="Verification.ChangedInputs"/>).</summary>
    public VerificationReport WithChangedInputs(VerifyPlan plan, IReadOnlyList<string> changedFiles)
    {
        var changed = Verification.ChangedInputs.Find(changedFiles, plan);
        return this with { ChangedInputs = changed.Take(MaxChangedInputsShown).ToList(), ChangedInputsOmitted = Math.Max(0, changed.Count - MaxChangedInputsShown) };
    }
}
