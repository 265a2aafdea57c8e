namespace SandboxRunner.Verification;

/// <summary>
/// What the runner checks after a task's agent has ended: the commands it runs itself, each with its own
/// deadline, and the globs of the files those commands' meaning depends on (the inputs an agent could change
/// to make a check pass without the work). Resolved per task, the nearest level winning: the task's, the
/// run's, the environment's, then the config's top level.
/// </summary>
public sealed record VerifyPlan(IReadOnlyList<string> Commands, TimeSpan CommandTimeout, IReadOnlyList<string> Inputs)
{
    public const int DefaultTimeoutSec = 600;
    public const int MinTimeoutSec = 10;
    public const int MaxTimeoutSec = 3600;

    /// <summary>At most this many verify commands at any level.</summary>
    public const int MaxCommands = 20;

    /// <summary>At most this many bytes (UTF-8) per verify command, as for setup commands.</summary>
    public const int MaxCommandBytes = 8 * 1024;

    /// <summary>At most this many <c>verify_inputs</c> globs at any level.</summary>
    public const int MaxInputs = 200;

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

/// <summary>One level's <c>verify</c>, <c>verify_timeout_sec</c> and <c>verify_inputs</c>; null where the level does not set one.</summary>
public sealed record VerifyLevel(IReadOnlyList<string>? Commands, int? TimeoutSec, IReadOnlyList<string>? Inputs);
