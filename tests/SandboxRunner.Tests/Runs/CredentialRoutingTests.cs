using SandboxRunner.Auth;
using SandboxRunner.Configuration;
using SandboxRunner.Runs;

namespace SandboxRunner.Tests.Runs;

/// <summary>Where a run's model credential goes: into the task's environment, or in deny only to the egress proxy; redacted either way.</summary>
public sealed class CredentialRoutingTests
{
    private const string Key = "sk-test-0123456789abcdef";

    private static readonly Dictionary<string, string> Host = new(StringComparer.Ordinal)
    {
        ["CODEX_API_KEY"] = Key,
        ["SAME_KEY_AGAIN"] = Key,
        ["HARMLESS"] = "visible-value",
    };

    private static RunnerConfig Config(NetworkPolicy policy) =>
        RunnerConfig.Default with { NetworkPolicy = policy, EnvPassthrough = ["CODEX_API_KEY", "SAME_KEY_AGAIN", "HARMLESS", "UNSET"] };

    [Fact]
    public void With_the_network_open_the_passed_variables_reach_the_task_and_no_proxy_is_asked_for()
    {
        var route = CredentialRouting.Route(Config(NetworkPolicy.Allow), RunCredential.ForApiKey(Key, "test"), "proxy:dev", Host.GetValueOrDefault);

        Assert.Equal(["CODEX_API_KEY", "HARMLESS", "SAME_KEY_AGAIN"], route.Passed.Keys.Order(StringComparer.Ordinal));
        Assert.Null(route.Egress);
    }

    [Fact]
    public void In_deny_the_key_goes_to_the_proxy_under_every_name_and_never_into_the_task()
    {
        var route = CredentialRouting.Route(Config(NetworkPolicy.Deny), RunCredential.ForApiKey(Key, "test"), "proxy:dev", Host.GetValueOrDefault);

        Assert.Equal(["HARMLESS"], route.Passed.Keys);
        Assert.Equal(Key, route.Egress!.Route.Credential);
        Assert.Equal("proxy:dev", route.Egress.ProxyImage);
        Assert.Null(route.Egress.Route.ChatGpt);
    }

    [Fact]
    public void The_key_is_redacted_whether_or_not_it_was_passed()
    {
        foreach (var policy in new[] { NetworkPolicy.Allow, NetworkPolicy.Deny })
        {
            var route = CredentialRouting.Route(Config(policy), RunCredential.ForApiKey(Key, "test"), "proxy:dev", Host.GetValueOrDefault);

            Assert.DoesNotContain(Key, route.Redactor().Redact($"the agent printed {Key}"), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_variable_that_is_not_set_is_not_passed_as_empty()
    {
        var route = CredentialRouting.Route(Config(NetworkPolicy.Allow), RunCredential.None("test"), "proxy:dev", Host.GetValueOrDefault);

        Assert.False(route.Passed.ContainsKey("UNSET"));
    }
}
