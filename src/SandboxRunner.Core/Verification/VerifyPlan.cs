using SandboxRunner.Configuration;

namespace SandboxRunner.Verification;

/// <summary>
/// What the runner checks after a task's agent has ended: the commands it runs itself, each with its own
/// deadline, and the globs of the files those commands' meaning depends on (the inputs an agent could change
/// to make a check pass without the work). Resolved per task, the nearest level winning: the task's, the
/// run's, the environment's, then the config's top level.
/// </summary>
public sealed record VerifyPlan(IReadOnlyList<string> Commands, TimeSpan CommandTimeout, IReadOnlyList<string> Inputs)
{
    public const int DefaultTimeoutSec = VerifyLimits.DefaultTimeoutSec;
    public const int MinTimeoutSec = VerifyLimits.MinTimeoutSec;
    public const int MaxTimeoutSec = VerifyLimits.MaxTimeoutSec;
    public const int MaxCommands = VerifyLimits.MaxCommands;
    public const int MaxCommandBytes = VerifyLimits.MaxCommandBytes;
    public const int MaxInputs = VerifyLimits.MaxInputs;

    public static VerifyPlan None { get; } = new([], TimeSpan.FromSeconds(DefaultTimeoutSec), VerifyInputs.Defaults);

    /// <summary>Whether there is anything to run.</summary>
    public bool Any => Commands.Count > 0;

    /// <summary>The levels' values, nearest first (task, run, environment, config); the first one set wins for each field.</summary>
    public static VerifyPlan Resolve(IEnumerable<VerifyLevel> nearestFirst)
    {
        IReadOnlyList<string>? commands = null, inputs = null;
        int? timeout = null;
        foreach (var level in nearestFirst)
        {
            commands ??= level.Commands;
            inputs ??= level.Inputs;
            timeout ??= level.TimeoutSec;
        }

        return new VerifyPlan(commands ?? [], TimeSpan.FromSeconds(timeout ?? DefaultTimeoutSec), inputs ?? VerifyInputs.Defaults);
    }
}
