namespace SandboxRunner.Configuration;

public enum ResourcePolicy { Conservative, Normal }

public enum NetworkPolicy { Deny, Allow, None }

public enum SandboxMode { ReadOnly, WorkspaceWrite, DangerFullAccess }

/// <summary>
/// The contents of <c>.mcp-codex.json</c>. Field names, defaults and ranges follow codex-mcp-runner;
/// the fields after <see cref="MaxTasksPerRun"/> are this runner's own.
/// </summary>
public sealed record RunnerConfig
{
    public const string FileName = ".mcp-codex.json";
    public const string DefaultCodexVersion = "0.169.0";

    public IReadOnlyList<string> AllowedCommands { get; init; } = ["npm test", "npm run lint", "npx tsc --noEmit"];
    public IReadOnlyList<string> DefaultAllowedPaths { get; init; } = ["src/**", "tests/**", "package.json"];
    public int DefaultConcurrency { get; init; } = 2;
    public int DefaultTimeoutSec { get; init; } = 300;
    public ResourcePolicy ResourcePolicy { get; init; } = ResourcePolicy.Conservative;
    public NetworkPolicy NetworkPolicy { get; init; } = NetworkPolicy.Deny;

    /// <summary>The Codex executable inside the task image.</summary>
    public string CodexCommand { get; init; } = "codex";

    public string? CodexModel { get; init; } = "o4-mini";

    /// <summary>Accepted for compatibility and ignored: Codex 0.169 rejects <c>--full-auto</c>, and the container is the sandbox.</summary>
    public bool CodexFullAuto { get; init; } = true;

    public bool CodexEphemeral { get; init; } = true;
    public SandboxMode SandboxMode { get; init; } = SandboxMode.WorkspaceWrite;
    public int MaxRunsRetained { get; init; } = 20;
    public int MaxTasksPerRun { get; init; } = 10;

    /// <summary>Task image; null means the image built from <c>Dockerfile.codex</c> for <see cref="CodexVersion"/>.</summary>
    public string? Image { get; init; }

    public string CodexVersion { get; init; } = DefaultCodexVersion;
    public IReadOnlyList<string> CodexConfigOverrides { get; init; } = [];
    public IReadOnlyList<string> EnvPassthrough { get; init; } = ["CODEX_API_KEY"];

    /// <summary>Lets a task's allowed_paths and allowed_commands go beyond the config's. Off: the original let any caller pass <c>["**"]</c>.</summary>
    public bool AllowTaskPolicyWidening { get; init; }

    /// <summary>Command prefixes Codex refuses up front (execpolicy <c>forbidden</c> rules) and the audit flags.</summary>
    public IReadOnlyList<string> DeniedCommands { get; init; } = [];

    public static RunnerConfig Default { get; } = new();
}
