namespace SandboxRunner.Configuration;

public enum ResourcePolicy { Conservative, Normal }

/// <summary>The names of <see cref="ResourcePolicy"/> in the config and the tools' arguments (constants, so attributes can list them).</summary>
public static class ResourcePolicyNames
{
    public const string Conservative = "conservative";
    public const string Normal = "normal";
}

public enum NetworkPolicy { Deny, Allow, None }

public enum SandboxMode { ReadOnly, WorkspaceWrite, DangerFullAccess }

/// <summary>What a command outside the audit's lists does to a task: fails it (<c>enforce</c>), or is only reported (<c>audit</c>).</summary>
public enum CommandPolicyMode { Enforce, Audit }

/// <summary>How a task's tree reaches its container: bind mounts, copies through the archive API, or whichever the engine allows.</summary>
public enum TransportPolicy { Auto, Bind, Copy }

/// <summary>
/// The contents of <c>.mcp-codex.json</c>. Field names, defaults and ranges follow codex-mcp-runner;
/// the fields after <see cref="MaxTasksPerRun"/> are this runner's own.
/// </summary>
public sealed partial record RunnerConfig
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

    /// <summary>The model API Codex talks to; in <c>deny</c> the egress proxy forwards to it and adds the key.</summary>
    public string ModelBaseUrl { get; init; } = DefaultModelBaseUrl;

    /// <summary>
    /// True when <see cref="ModelBaseUrl"/> was read from the repository's file, which a cloned repository or a pull
    /// request writes: the host's key then goes only where the host agrees (<see cref="Auth.ModelEndpointRule"/>).
    /// A URL set in code (a team's own tests, an embedding host) is the host's own choice.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool ModelBaseUrlFromFile { get; init; }

    /// <summary>The host variable holding the model API key. In <c>deny</c> it stays with the proxy and never enters a task container.</summary>
    public string ModelApiKeyEnv { get; init; } = "CODEX_API_KEY";

    /// <summary>Hosts (<c>host</c> or <c>host:port</c>) the egress proxy lets tasks reach in <c>deny</c>; null means the model API's host.</summary>
    public IReadOnlyList<string>? NetworkAllowlist { get; init; }

    public const string DefaultModelBaseUrl = "https://api.openai.com/v1";

    /// <summary>The effective allowlist: the configured one, or the model API's host and port.</summary>
    public IReadOnlyList<string> EffectiveAllowlist =>
        NetworkAllowlist ?? (Uri.TryCreate(ModelBaseUrl, UriKind.Absolute, out var uri) ? [$"{uri.Host}:{uri.Port}"] : []);

    /// <summary>Command prefixes Codex refuses up front (execpolicy <c>forbidden</c> rules) and the audit flags.</summary>
    public IReadOnlyList<string> DeniedCommands { get; init; } = [];

    /// <summary>
    /// <c>command_policy</c>: <c>enforce</c> fails a task that ran a command outside the baseline and
    /// <c>allowed_commands</c>; <c>audit</c> only reports it in <c>violations</c>. Denied commands fail it either way.
    /// </summary>
    public CommandPolicyMode CommandPolicy { get; init; } = CommandPolicyMode.Enforce;

    /// <summary><c>extra_ca_certs</c>: <c>host</c> and PEM files whose authorities setup and tasks trust (see <see cref="Configuration.TrustedAuthorities"/>).</summary>
    public IReadOnlyList<string> ExtraCaCerts { get; init; } = [];

    /// <summary>Per-task limits that replace the resource policy's defaults.</summary>
    public TaskLimitOverrides TaskLimits { get; init; } = new();

    /// <summary>
    /// <c>transport</c>: <c>auto</c> binds the task tree when the engine sees this machine's files (probed
    /// once per process) and copies it through the archive API otherwise; <c>bind</c> and <c>copy</c> force one.
    /// </summary>
    public TransportPolicy Transport { get; init; } = TransportPolicy.Auto;

    public static RunnerConfig Default { get; } = new();
}
