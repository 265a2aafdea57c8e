using SandboxRunner.Configuration;

namespace SandboxRunner.Tests.Configuration;

/// <summary>Finding and reading <c>.mcp-codex.json</c>, its defaults, and the values it accepts.</summary>
public sealed class ConfigLoaderTests
{
    [Fact]
    public async Task Missing_file_gives_defaults()
    {
        using var repo = new TempDirectory();

        var config = await ConfigLoader.LoadAsync(repo.Path, CancellationToken.None);

        Assert.Same(RunnerConfig.Default, config);
    }

    [Fact]
    public async Task File_in_the_repository_root_is_read()
    {
        using var repo = new TempDirectory();
        await File.WriteAllTextAsync(Path.Combine(repo.Path, ".mcp-codex.json"), """{ "default_concurrency": 4 }""");

        var config = await ConfigLoader.LoadAsync(repo.Path, CancellationToken.None);

        Assert.Equal(4, config.DefaultConcurrency);
    }

    [Fact]
    public async Task Refusal_of_a_file_on_disk_names_the_file()
    {
        using var repo = new TempDirectory();
        await File.WriteAllTextAsync(Path.Combine(repo.Path, ".mcp-codex.json"), """{ "default_concurrency": 0 }""");

        var e = await Assert.ThrowsAsync<InvalidInputException>(() => ConfigLoader.LoadAsync(repo.Path, CancellationToken.None));

        Assert.Equal(".mcp-codex.json", e.Source);
        Assert.StartsWith(".mcp-codex.json: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_object_gives_defaults()
    {
        Assert.Equal(RunnerConfig.Default, ConfigLoader.Parse("{}"));
    }

    [Theory]
    [InlineData("allowed_commands", new[] { "npm test", "npm run lint", "npx tsc --noEmit" })]
    [InlineData("default_allowed_paths", new[] { "src/**", "tests/**", "package.json" })]
    [InlineData("default_concurrency", 2)]
    [InlineData("default_timeout_sec", 300)]
    [InlineData("resource_policy", ResourcePolicy.Conservative)]
    [InlineData("network_policy", NetworkPolicy.Deny)]
    [InlineData("codex_command", "codex")]
    [InlineData("codex_model", "o4-mini")]
    [InlineData("codex_full_auto", true)]
    [InlineData("codex_ephemeral", true)]
    [InlineData("sandbox_mode", SandboxMode.WorkspaceWrite)]
    [InlineData("max_runs_retained", 20)]
    [InlineData("max_tasks_per_run", 10)]
    [InlineData("image", null)]
    [InlineData("codex_version", "0.169.0")]
    [InlineData("codex_config_overrides", new string[0])]
    [InlineData("env_passthrough", new[] { "CODEX_API_KEY" })]
    [InlineData("allow_task_policy_widening", false)]
    [InlineData("denied_commands", new string[0])]
    [InlineData("model_base_url", "https://api.openai.com/v1")]
    [InlineData("model_api_key_env", "CODEX_API_KEY")]
    [InlineData("network_allowlist", null)]
    public void Field_left_out_takes_its_default(string field, object? expected)
    {
        Assert.Equal(expected, Config.Field(ConfigLoader.Parse("{}"), field));
    }

    [Fact]
    public void Every_known_field_can_be_read_by_its_json_name()
    {
        // Config.Field throws for a field it does not know, so a new field cannot be left out of the tables above.
        Assert.All(ConfigLoader.KnownFields, field => Config.Field(RunnerConfig.Default, field));
    }

    [Fact]
    public void Known_fields_are_exactly_these()
    {
        Assert.Equal(
            [
                "allow_task_policy_widening", "allowed_commands", "auth_method", "backend", "chatgpt_base_url", "codex_command", "codex_config_overrides", "codex_ephemeral",
                "codex_full_auto", "codex_model", "codex_version", "command_policy", "default_allowed_paths", "default_concurrency",
                "default_timeout_sec", "denied_commands", "env_passthrough", "environment", "environments", "extra_ca_certs", "image", "max_runs_retained", "max_tasks_per_node", "max_tasks_per_run",
                "model_api_key_env", "model_base_url", "network_allowlist", "network_policy", "registry", "resource_policy", "runtime", "sandbox_mode", "task_limits", "transport",
                "verify", "verify_inputs", "verify_timeout_sec",
            ],
            ConfigLoader.KnownFields.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Every_field_is_accepted_with_a_valid_value()
    {
        var config = ConfigLoader.Parse("""
            {
              "allowed_commands": ["make test"],
              "default_allowed_paths": ["lib/**", "README.md"],
              "default_concurrency": 3,
              "default_timeout_sec": 600,
              "resource_policy": "normal",
              "network_policy": "allow",
              "codex_command": "/usr/local/bin/codex",
              "codex_model": "gpt-5-codex",
              "codex_full_auto": false,
              "codex_ephemeral": false,
              "sandbox_mode": "read-only",
              "max_runs_retained": 50,
              "max_tasks_per_run": 5,
              "image": "ghcr.io/example/codex:1.2.3",
              "codex_version": "0.170.1",
              "codex_config_overrides": ["model_reasoning_effort=high"],
              "env_passthrough": ["OPENAI_API_KEY", "HTTPS_PROXY"],
              "allow_task_policy_widening": true,
              "denied_commands": ["git push", "rm -rf /"],
              "model_base_url": "http://127.0.0.1:8080/v1",
              "model_api_key_env": "MOCK_API_KEY",
              "network_allowlist": ["registry.npmjs.org", "10.0.0.1:8443"]
            }
            """);

        Assert.Equal(["make test"], config.AllowedCommands);
        Assert.Equal(["lib/**", "README.md"], config.DefaultAllowedPaths);
        Assert.Equal(3, config.DefaultConcurrency);
        Assert.Equal(600, config.DefaultTimeoutSec);
        Assert.Equal(ResourcePolicy.Normal, config.ResourcePolicy);
        Assert.Equal(NetworkPolicy.Allow, config.NetworkPolicy);
        Assert.Equal("/usr/local/bin/codex", config.CodexCommand);
        Assert.Equal("gpt-5-codex", config.CodexModel);
        Assert.False(config.CodexFullAuto);
        Assert.False(config.CodexEphemeral);
        Assert.Equal(SandboxMode.ReadOnly, config.SandboxMode);
        Assert.Equal(50, config.MaxRunsRetained);
        Assert.Equal(5, config.MaxTasksPerRun);
        Assert.Equal("ghcr.io/example/codex:1.2.3", config.Image);
        Assert.Equal("0.170.1", config.CodexVersion);
        Assert.Equal(["model_reasoning_effort=high"], config.CodexConfigOverrides);
        Assert.Equal(["OPENAI_API_KEY", "HTTPS_PROXY"], config.EnvPassthrough);
        Assert.True(config.AllowTaskPolicyWidening);
        Assert.Equal(["git push", "rm -rf /"], config.DeniedCommands);
        Assert.Equal("http://127.0.0.1:8080/v1", config.ModelBaseUrl);
        Assert.Equal("MOCK_API_KEY", config.ModelApiKeyEnv);
        Assert.Equal(["registry.npmjs.org", "10.0.0.1:8443"], config.NetworkAllowlist);
    }

    [Fact]
    public void The_default_allowlist_is_the_model_apis_host_and_port()
    {
        Assert.Equal(["api.openai.com:443"], RunnerConfig.Default.EffectiveAllowlist);
        Assert.Equal(["127.0.0.1:9000"], (RunnerConfig.Default with { ModelBaseUrl = "http://127.0.0.1:9000/v1" }).EffectiveAllowlist);
    }

    [Theory]
    [InlineData("model_base_url", "\"ftp://x/v1\"", "must be an absolute http:// or https:// URL")]
    [InlineData("model_base_url", "\"/v1\"", "must be an absolute http:// or https:// URL")]
    [InlineData("network_allowlist", "[\"host:99999\"]", "each entry must be 'host' or 'host:port' (a DNS name or IPv4 address, port 1-65535)")]
    [InlineData("network_allowlist", "[\"http://host\"]", "each entry must be 'host' or 'host:port' (a DNS name or IPv4 address, port 1-65535)")]
    [InlineData("model_api_key_env", "\"1KEY\"", "each entry must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")]
    public void Network_fields_are_validated(string field, string json, string rule)
    {
        var problem = Assert.Single(Assert.Throws<InvalidInputException>(() => ConfigLoader.Parse($"{{\"{field}\": {json}}}")).Problems);
        Assert.Equal(rule, problem.Rule);
        Assert.StartsWith(field, problem.Field, StringComparison.Ordinal);
    }

    [Fact]
    public void Setting_one_field_leaves_the_others_at_their_defaults()
    {
        var config = ConfigLoader.Parse("""{ "default_concurrency": 7 }""");

        Assert.Equal(RunnerConfig.Default with { DefaultConcurrency = 7 }, config);
    }

    [Fact]
    public void Comments_and_trailing_commas_are_allowed()
    {
        var config = ConfigLoader.Parse("""
            {
              // two at a time
              "default_concurrency": 2, /* the default */
              "allowed_commands": ["make",],
            }
            """);

        Assert.Equal(["make"], config.AllowedCommands);
    }

    [Fact]
    public void Empty_lists_are_accepted()
    {
        var config = ConfigLoader.Parse("""{ "allowed_commands": [], "env_passthrough": [], "codex_config_overrides": [] }""");

        Assert.Empty(config.AllowedCommands);
        Assert.Empty(config.EnvPassthrough);
        Assert.Empty(config.CodexConfigOverrides);
    }
}
