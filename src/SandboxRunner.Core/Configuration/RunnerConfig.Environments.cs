
namespace SandboxRunner.Configuration;

/// <summary>The toolchain fields (issue 11: environments).</summary>
public sealed partial record RunnerConfig
{
    /// <summary>The name <see cref="Environment"/> is known by, in a run's or a task's <c>environment</c>.</summary>
    public const string DefaultEnvironment = "default";

    /// <summary>The name of no environment: the plain Codex image (or <see cref="Image"/>).</summary>
    public const string NoEnvironment = "none";

    /// <summary><c>environment</c>: what every task runs in unless its run or itself names another; null: the plain Codex image.</summary>
    public EnvironmentSpec? Environment { get; init; }

    /// <summary><c>environments</c>: further environments a run or a task may name.</summary>
    public IReadOnlyDictionary<string, EnvironmentSpec> Environments { get; init; } = new Dictionary<string, EnvironmentSpec>(StringComparer.Ordinal);
}
