namespace SandboxRunner.Codex;

/// <summary>
/// The <c>codex exec</c> command line for Codex CLI 0.169, inside a task container.
/// <list type="bullet">
/// <item><c>--dangerously-bypass-approvals-and-sandbox</c>: Codex's own sandbox (bubblewrap) cannot start
/// under Docker's default seccomp profile and fails silently; the container is the sandbox.</item>
/// <item>No <c>--full-auto</c>: 0.169 rejects it (exit 2).</item>
/// <item>The prompt comes on stdin from a file (<c>-</c>), which has no argument-length limit and cannot be
/// mistaken for an option.</item>
/// </list>
/// </summary>
public sealed record CodexCommandLine
{
    public const string Workspace = "/workspace";
    public const string Home = "/codex-home";
    public const string PromptFile = Home + "/prompt.md";
    public const string LastMessageFile = Home + "/last-message.md";
    public const string OutputSchemaFile = Home + "/output-schema.json";

    public string Executable { get; init; } = "codex";
    public string? Model { get; init; }
    public bool Ephemeral { get; init; } = true;
    public IReadOnlyList<string> ConfigOverrides { get; init; } = [];

    /// <summary>Passes <c>--output-schema</c>, so the final message is JSON matching the schema file.</summary>
    public bool WithOutputSchema { get; init; }

    public IReadOnlyList<string> Arguments()
    {
        List<string> args =
        [
            Executable, "exec", "--json", "--dangerously-bypass-approvals-and-sandbox", "--skip-git-repo-check",
            "-C", Workspace, "-o", LastMessageFile,
        ];
        if (Ephemeral)
        {
            args.Add("--ephemeral");
        }

        if (WithOutputSchema)
        {
            args.AddRange(["--output-schema", OutputSchemaFile]);
        }

        if (Model is not null)
        {
            args.AddRange(["-m", Model]);
        }

        foreach (var entry in ConfigOverrides)
        {
            args.AddRange(["-c", entry]);
        }

        args.Add("-");
        return args;
    }

    /// <summary>
    /// Settings the runner passes before the user's overrides (which can still change them): Codex 0.169
    /// otherwise syncs a curated plugin list from GitHub and ChatGPT at start and sends OTLP metrics,
    /// traffic a sandboxed task has no use for (and that deny would refuse and report).
    /// </summary>
    public static IReadOnlyList<string> QuietOverrides { get; } = ["features.plugins=false", "analytics.enabled=false"];

    /// <summary>
    /// Overrides that make Codex use a custom Responses API provider (preferred to <c>openai_base_url</c>,
    /// which first tries WebSockets), whose key Codex reads from <paramref name="envKey"/>.
    /// </summary>
    public static IReadOnlyList<string> ProviderOverrides(string baseUrl, string envKey) =>
    [
        "model_provider=\"sandbox-runner\"",
        $"model_providers.sandbox-runner={{name=\"sandbox-runner\",base_url=\"{baseUrl}\",env_key=\"{envKey}\",wire_api=\"responses\"}}",
    ];

    /// <summary>The container command: a POSIX shell feeds the prompt file to Codex's stdin and gets out of the way.</summary>
    public IReadOnlyList<string> ContainerCommand() =>
        ["/bin/sh", "-c", $"exec \"$@\" < {PromptFile}", "sh", .. Arguments()];
}
