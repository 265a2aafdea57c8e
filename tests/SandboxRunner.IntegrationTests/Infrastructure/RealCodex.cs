using System.Net.NetworkInformation;
using System.Net.Sockets;
using SandboxRunner.Configuration;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>
/// Runner settings for the real Codex image talking to a <see cref="ScriptedModelServer"/> on this machine
/// through a custom model provider, with everything else Codex 0.169 would reach out to switched off.
/// </summary>
public static class RealCodex
{
    /// <summary>The runner's own task image for Codex 0.169.0 (built from Dockerfile.codex by setup or on first use).</summary>
    public static string Image { get; } = Boxes.ImageRecipe.Codex("0.169.0").Tag;
    public const string ApiKeyVariable = "MOCK_API_KEY";
    public const string ApiKey = "sk-scripted-model-test-key";

    /// <summary>
    /// What Codex 0.169 contacts besides the model, found by pointing HTTPS_PROXY at the scripted server:
    /// <c>features.plugins</c> drives the curated plugin sync at start (<c>git ls-remote https://github.com/openai/plugins.git</c>,
    /// then <c>api.github.com</c>, then <c>chatgpt.com/backend-api/plugins/export/curated</c>);
    /// <c>analytics.enabled</c> drives OTLP metrics to <c>ab.chatgpt.com/otlp/v1/metrics</c>;
    /// <c>web_search="disabled"</c> takes the hosted web_search tool out of the model's tool list.
    /// </summary>
    public static IReadOnlyList<string> Offline { get; } = ["features.plugins=false", "analytics.enabled=false", "web_search=\"disabled\""];

    /// <summary>
    /// The host as task containers on the default bridge network see it: the docker0 address (Docker 20.10's
    /// <c>network inspect bridge</c> may not list a gateway). <c>SANDBOX_RUNNER_TEST_DOCKER_GATEWAY</c> overrides it.
    /// </summary>
    public static string Gateway { get; } = FindGateway();

    /// <summary>The config with the task image, network and model provider pointed at <paramref name="server"/>.</summary>
    public static RunnerConfig Configure(RunnerConfig config, ScriptedModelServer server, params string[] extraPassthrough) => config with
    {
        Image = null,
        CodexVersion = "0.169.0",
        NetworkPolicy = NetworkPolicy.Allow,
        CodexModel = "gpt-5.5",
        CodexConfigOverrides =
        [
            "model_provider=\"mock\"",
            $"model_providers.mock={{name=\"Mock\",base_url=\"{server.BaseUrlFor(Gateway)}\",env_key=\"{ApiKeyVariable}\",wire_api=\"responses\",request_max_retries=0,stream_max_retries=0}}",
            .. Offline,
        ],
        EnvPassthrough = [ApiKeyVariable, .. extraPassthrough],
    };

    /// <summary>
    /// <c>.mcp-codex.json</c> fields (a JSON object to merge into a test's config) for the runner's own Codex 0.169
    /// image behind the <c>deny</c> proxy, which forwards to <paramref name="server"/> with <see cref="ApiKey"/>.
    /// </summary>
    public static string DenyConfigJson(ScriptedModelServer server) => $$"""
        {
          "image": null,
          "codex_version": "0.169.0",
          "network_policy": "deny",
          "model_base_url": "{{server.BaseUrlFor(Gateway)}}",
          "model_api_key_env": "{{ApiKeyVariable}}",
          "env_passthrough": ["{{ApiKeyVariable}}"],
          "network_allowlist": []
        }
        """;

    /// <summary>
    /// What the server's environment holds for <see cref="DenyConfigJson"/>: the key, and the scripted endpoint named
    /// as the host's own choice, without which a file's model_base_url never receives the key.
    /// </summary>
    public static Dictionary<string, string?> ServerEnvironment(ScriptedModelServer server) => new(StringComparer.Ordinal)
    {
        [ApiKeyVariable] = ApiKey,
        [Auth.ModelEndpointRule.Variable] = server.BaseUrlFor(Gateway),
    };

    /// <summary>A harness whose runner runs the real Codex against <paramref name="server"/> on <paramref name="target"/> (the host's engine, or under gVisor).</summary>
    public static Task<RunnerHarness> HarnessAsync(
        IEngineUnderTest target,
        ScriptedModelServer server,
        Func<RunnerConfig, RunnerConfig>? configure = null,
        IReadOnlyDictionary<string, string>? extraEnvironment = null)
    {
        var environment = new Dictionary<string, string>(extraEnvironment ?? new Dictionary<string, string>(), StringComparer.Ordinal)
        {
            [ApiKeyVariable] = ApiKey,
        };
        return target.HarnessAsync(
            c =>
            {
                var real = Configure(c, server, [.. environment.Keys.Where(k => k != ApiKeyVariable)]);
                return configure?.Invoke(real) ?? real;
            },
            name => environment.GetValueOrDefault(name));
    }

    private static string FindGateway()
    {
        if (Environment.GetEnvironmentVariable("SANDBOX_RUNNER_TEST_DOCKER_GATEWAY") is { Length: > 0 } configured)
        {
            return configured;
        }

        var bridge = NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n => n.Name == "docker0");
        var address = bridge?.GetIPProperties().UnicastAddresses.FirstOrDefault(a => a.Address.AddressFamily == AddressFamily.InterNetwork);
        return address?.Address.ToString()
            ?? throw new InvalidOperationException(
                "No docker0 interface on this machine, so task containers cannot reach a server here through the bridge gateway; " +
                "set SANDBOX_RUNNER_TEST_DOCKER_GATEWAY to an address of this machine that containers can reach.");
    }
}
