using SandboxRunner.Configuration;

namespace SandboxRunner.Tests.Configuration;

/// <summary>Helpers for reading <c>.mcp-codex.json</c> text in tests.</summary>
internal static class Config
{
    /// <summary>Parses a file holding just one field, e.g. <c>One("default_concurrency", "3")</c>.</summary>
    public static RunnerConfig One(string field, string jsonValue) => ConfigLoader.Parse($"{{ \"{field}\": {jsonValue} }}");

    /// <summary>The refusal of a file, which must fail to parse.</summary>
    public static InvalidInputException Refusal(string json) => Assert.Throws<InvalidInputException>(() => ConfigLoader.Parse(json));

    /// <summary>The single problem with a file holding just one field.</summary>
    public static Problem OnlyProblem(string field, string jsonValue) =>
        Assert.Single(Refusal($"{{ \"{field}\": {jsonValue} }}").Problems);

    /// <summary>A field's value by its JSON name, so tables can name fields the way the file does.</summary>
    public static object? Field(RunnerConfig config, string name) => name switch
    {
        "allowed_commands" => config.AllowedCommands,
        "command_policy" => config.CommandPolicy,
        "extra_ca_certs" => config.ExtraCaCerts,
        "task_limits" => config.TaskLimits,
        "transport" => config.Transport,
        "auth_method" => config.AuthMethod,
        "chatgpt_base_url" => config.ChatGptBaseUrl,
        "default_allowed_paths" => config.DefaultAllowedPaths,
        "default_concurrency" => config.DefaultConcurrency,
        "default_timeout_sec" => config.DefaultTimeoutSec,
        "resource_policy" => config.ResourcePolicy,
        "network_policy" => config.NetworkPolicy,
        "codex_command" => config.CodexCommand,
        "codex_model" => config.CodexModel,
        "codex_full_auto" => config.CodexFullAuto,
        "codex_ephemeral" => config.CodexEphemeral,
        "sandbox_mode" => config.SandboxMode,
        "max_runs_retained" => config.MaxRunsRetained,
        "max_tasks_per_run" => config.MaxTasksPerRun,
        "image" => config.Image,
        "codex_version" => config.CodexVersion,
        "codex_config_overrides" => config.CodexConfigOverrides,
        "env_passthrough" => config.EnvPassthrough,
        "allow_task_policy_widening" => config.AllowTaskPolicyWidening,
        "denied_commands" => config.DeniedCommands,
        "model_base_url" => config.ModelBaseUrl,
        "model_api_key_env" => config.ModelApiKeyEnv,
        "network_allowlist" => config.NetworkAllowlist,
        "environment" => config.Environment,
        "environments" => config.Environments,
        "verify" => config.Verify,
        "verify_timeout_sec" => config.VerifyTimeoutSec,
        "verify_inputs" => config.VerifyInputs,
        "runtime" => config.Runtime,
        "backend" => config.Backend,
        "registry" => config.Registry,
        "max_tasks_per_node" => config.MaxTasksPerNode,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "not a field of .mcp-codex.json"),
    };
}

/// <summary>A fresh empty directory, deleted afterwards.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("sandbox-runner-tests-").FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
