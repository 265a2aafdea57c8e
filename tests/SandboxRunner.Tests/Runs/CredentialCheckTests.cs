using SandboxRunner.Configuration;
using SandboxRunner.Runs;

namespace SandboxRunner.Tests.Runs;

/// <summary>The doctor's <c>auth</c> line for an API key says where the key is read from and where it goes, under each network policy.</summary>
public sealed class CredentialCheckTests
{
    private const string Key = "sk-test-not-a-real-key";

    private static readonly RunnerConfig Deny = RunnerConfig.Default with { NetworkPolicy = NetworkPolicy.Deny, AuthMethod = AuthMethod.ApiKey, ModelApiKeyEnv = "MY_MODEL_KEY" };

    [Fact]
    public async Task Under_deny_the_key_is_read_from_model_api_key_env_and_added_by_the_egress_proxy()
    {
        var check = await ExamineAsync(Deny, ("MY_MODEL_KEY", Key));

        Assert.Equal(Doctor.Ok, check.Status);
        Assert.Contains("read from MY_MODEL_KEY (model_api_key_env) in the server's environment", check.Detail, StringComparison.Ordinal);
        Assert.Contains($"added by the egress proxy to requests for {Deny.ModelBaseUrl}", check.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Under_deny_the_key_is_said_never_to_reach_a_task_even_when_env_passthrough_lists_it()
    {
        var check = await ExamineAsync(Deny with { EnvPassthrough = ["MY_MODEL_KEY"] }, ("MY_MODEL_KEY", Key));

        Assert.Contains("never passed to tasks", check.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("passed to tasks in their environment", check.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Under_deny_the_key_needs_no_env_passthrough_entry()
    {
        var check = await ExamineAsync(Deny with { EnvPassthrough = [] }, ("MY_MODEL_KEY", Key));

        Assert.Equal(Doctor.Ok, check.Status);
    }

    [Fact]
    public async Task Under_deny_an_unset_model_api_key_env_fails_naming_that_variable_not_codex_api_key()
    {
        var check = await ExamineAsync(Deny, ("CODEX_API_KEY", Key));

        Assert.Equal(Doctor.Fail, check.Status);
        Assert.Contains("MY_MODEL_KEY (model_api_key_env) is not set", check.Detail, StringComparison.Ordinal);
        Assert.StartsWith("set MY_MODEL_KEY ", check.Fix, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(NetworkPolicy.Allow, "allow")]
    [InlineData(NetworkPolicy.None, "none")]
    public async Task Outside_deny_the_key_is_passed_to_tasks_in_their_environment_not_through_a_proxy(NetworkPolicy policy, string name)
    {
        var check = await ExamineAsync(RunnerConfig.Default with { NetworkPolicy = policy }, ("CODEX_API_KEY", Key));

        Assert.Equal(Doctor.Ok, check.Status);
        Assert.Contains($"network_policy {name}: passed to tasks in their environment as CODEX_API_KEY (env_passthrough)", check.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("egress proxy", check.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Under_allow_a_key_variable_missing_from_env_passthrough_fails_with_the_entry_to_add()
    {
        var check = await ExamineAsync(RunnerConfig.Default with { NetworkPolicy = NetworkPolicy.Allow, EnvPassthrough = [] }, ("CODEX_API_KEY", Key));

        Assert.Equal(Doctor.Fail, check.Status);
        Assert.Equal("add \"CODEX_API_KEY\" to env_passthrough in .mcp-codex.json", check.Fix);
    }

    [Fact]
    public async Task Under_allow_with_a_model_base_url_of_its_own_codex_reads_model_api_key_env()
    {
        var config = RunnerConfig.Default with
        {
            NetworkPolicy = NetworkPolicy.Allow, ModelBaseUrl = "http://127.0.0.1:9000/v1", ModelApiKeyEnv = "MY_MODEL_KEY", EnvPassthrough = ["MY_MODEL_KEY"],
        };

        var check = await ExamineAsync(config, ("MY_MODEL_KEY", Key));

        Assert.Equal(Doctor.Ok, check.Status);
        Assert.Contains("as MY_MODEL_KEY (env_passthrough), where Codex reads it", check.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Under_allow_with_the_default_model_base_url_codex_reads_codex_api_key_whatever_model_api_key_env_says()
    {
        var config = RunnerConfig.Default with { NetworkPolicy = NetworkPolicy.Allow, ModelApiKeyEnv = "MY_MODEL_KEY", EnvPassthrough = ["MY_MODEL_KEY"] };

        var check = await ExamineAsync(config, ("MY_MODEL_KEY", Key));

        Assert.Equal(Doctor.Fail, check.Status);
        Assert.Contains("Codex in a task reads its key from CODEX_API_KEY", check.Detail, StringComparison.Ordinal);
        Assert.Equal("add \"CODEX_API_KEY\" to env_passthrough in .mcp-codex.json", check.Fix);
    }

    [Fact]
    public async Task Under_none_the_line_says_only_a_local_model_is_reachable()
    {
        var check = await ExamineAsync(RunnerConfig.Default with { NetworkPolicy = NetworkPolicy.None }, ("CODEX_API_KEY", Key));

        Assert.Contains("tasks reach only loopback, so only a local model answers", check.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_line_shows_the_key_itself()
    {
        var deny = await ExamineAsync(Deny, ("MY_MODEL_KEY", Key));
        var allow = await ExamineAsync(RunnerConfig.Default with { NetworkPolicy = NetworkPolicy.Allow }, ("CODEX_API_KEY", Key));

        Assert.All([deny, allow], check => Assert.DoesNotContain(Key, check.Detail + check.Fix, StringComparison.Ordinal));
    }

    /// <summary>The check with only <paramref name="variables"/> set on the host (no HOME, so no sign-in file is found).</summary>
    private static Task<DoctorCheck> ExamineAsync(RunnerConfig config, params (string Name, string Value)[] variables)
    {
        var host = variables.ToDictionary(v => v.Name, v => v.Value);
        return CredentialCheck.ExamineAsync(config, name => host.GetValueOrDefault(name), TimeProvider.System, CancellationToken.None);
    }
}
