using Microsoft.Extensions.Logging;
using SandboxRunner.Configuration;

namespace SandboxRunner.Testcontainers;

/// <summary>Where a <see cref="CodexTaskRunner"/>'s tasks get their model from.</summary>
public enum ModelSource
{
    /// <summary>No model: each task's <see cref="AgentScript"/> is played by the fake Codex image, offline and the same every time.</summary>
    Scripted,

    /// <summary>The real Codex CLI against the model API, with the key given to the builder.</summary>
    ModelKey,

    /// <summary>The real Codex CLI with whatever credentials the repository's config names (<c>auth</c>, <c>model_api_key_env</c>).</summary>
    Repository,
}

/// <summary>
/// Everything a <see cref="CodexTaskRunnerBuilder"/> collected, immutable: each <c>With…</c> call returns a
/// builder over a changed copy, as Testcontainers' builders do.
/// </summary>
public sealed record CodexTaskRunnerConfiguration
{
    /// <summary>The fixture repository (any folder inside a git repository with a commit).</summary>
    public string? RepositoryPath { get; init; }

    /// <summary>The run's environment: a name from the repository's <c>.mcp-codex.json</c>, <c>default</c> or <c>none</c>; null: the config's default.</summary>
    public string? Environment { get; init; }

    /// <summary>Replaces the config's <c>network_policy</c> when set.</summary>
    public NetworkPolicy? NetworkPolicy { get; init; }

    /// <summary>Replaces the config's <c>network_allowlist</c> when set.</summary>
    public IReadOnlyList<string>? NetworkAllowlist { get; init; }

    /// <summary>The run's verify commands (the runner runs them itself after each task); null: the environment's or the config's.</summary>
    public IReadOnlyList<string>? Verify { get; init; }

    /// <summary>Replace the config's <c>default_allowed_paths</c> / <c>allowed_commands</c> when set.</summary>
    public IReadOnlyList<string>? AllowedPaths { get; init; }

    public IReadOnlyList<string>? AllowedCommands { get; init; }

    public ModelSource Model { get; init; } = ModelSource.Repository;

    /// <summary>With <see cref="ModelSource.ModelKey"/>: the key, handed to the runner as the config's <c>model_api_key_env</c> variable.</summary>
    public string? ModelKey { get; init; }

    /// <summary>Replaces the config's <c>image</c> (with <see cref="ModelSource.Scripted"/>, the fake Codex image the module builds).</summary>
    public string? Image { get; init; }

    /// <summary>More changes to the repository's config, applied last.</summary>
    public Func<RunnerConfig, RunnerConfig>? Configure { get; init; }

    /// <summary>Labels of the caller's own, added to everything the runs create.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    public ILoggerFactory? Loggers { get; init; }

    /// <summary>Without the model key: a configuration printed in a test's output must not publish it.</summary>
    public override string ToString() =>
        $"{nameof(CodexTaskRunnerConfiguration)} {{ {nameof(RepositoryPath)} = {RepositoryPath}, {nameof(Environment)} = {Environment}, " +
        $"{nameof(NetworkPolicy)} = {NetworkPolicy}, {nameof(Model)} = {Model}, {nameof(ModelKey)} = {(ModelKey is null ? "null" : "(set)")}, {nameof(Image)} = {Image} }}";
}
