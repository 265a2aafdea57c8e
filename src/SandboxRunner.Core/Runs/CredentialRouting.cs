using SandboxRunner.Configuration;
using SandboxRunner.Policy;
using SandboxRunner.Boxes;

namespace SandboxRunner.Runs;

/// <summary>
/// Where a run's model credential goes: the environment passed into task containers, the secrets the redactor
/// masks everywhere, and under <c>network_policy: deny</c> the egress proxy's model route (the credential
/// stays with the proxy, never in a task container).
/// </summary>
/// <param name="Passed">The variables a task container gets (<c>env_passthrough</c>, minus what the proxy holds).</param>
/// <param name="Secrets">Every value the redactor masks: what was passed and what the proxy holds.</param>
/// <param name="Egress">The proxy's options in <c>deny</c>; null when tasks reach the network (or nothing) themselves.</param>
public sealed record CredentialRoute(IReadOnlyDictionary<string, string> Passed, IReadOnlyDictionary<string, string> Secrets, EgressSpec? Egress)
{
    public Redactor Redactor() => new(Secrets);
}

public static class CredentialRouting
{
    /// <summary>Routes <paramref name="credential"/> for a run under <paramref name="config"/>, reading the host's variables through <paramref name="hostEnvironment"/>.</summary>
    public static CredentialRoute Route(RunnerConfig config, Auth.RunCredential credential, string proxyImage, Func<string, string?> hostEnvironment)
    {
        var key = hostEnvironment(config.ModelApiKeyEnv);
        var passed = Passed(config, hostEnvironment);
        var secrets = new Dictionary<string, string>(passed);
        if (!string.IsNullOrEmpty(key))
        {
            secrets[config.ModelApiKeyEnv] = key;
        }

        var chatGpt = credential.ChatGpt;
        foreach (var (name, value) in chatGpt?.Secrets ?? new Dictionary<string, string>())
        {
            secrets[name] = value;
        }

        if (config.NetworkPolicy != NetworkPolicy.Deny)
        {
            return new CredentialRoute(passed, secrets, null);
        }

        // The credential stays with the proxy under whatever name it also sits in the host's environment.
        passed.Remove(config.ModelApiKeyEnv);
        if (chatGpt is not null)
        {
            foreach (var name in Auth.PlaceholderSignIn.OutrankingVariables)
            {
                passed.Remove(name);
            }
        }

        var held = new[] { key }.Concat(chatGpt?.Secrets.Values ?? []).Where(v => !string.IsNullOrEmpty(v)).ToHashSet(StringComparer.Ordinal);
        foreach (var name in passed.Where(kv => held.Contains(kv.Value)).Select(kv => kv.Key).ToList())
        {
            passed.Remove(name);
        }

        return new CredentialRoute(passed, secrets, GatewayOptions(config, credential, proxyImage, key));
    }

    /// <summary>The proxy for a setup under <c>setup_network: deny</c> in a run whose tasks have the network: no model credential.</summary>
    public static EgressSpec SetupGateway(RunnerConfig config, string proxyImage) =>
        new(proxyImage, config.EffectiveAllowlist, new ModelRoute(config.ModelBaseUrl, null));

    /// <summary>
    /// The proxy's model route: the API key route to <c>model_base_url</c>, or for a ChatGPT sign-in the ChatGPT
    /// backend with its access token and account id. The ChatGPT route needs no host in the forward proxy's
    /// allowlist by default: Codex's model traffic goes through the reverse proxy.
    /// </summary>
    private static EgressSpec GatewayOptions(RunnerConfig config, Auth.RunCredential credential, string proxyImage, string? key) =>
        credential.ChatGpt is { } tokens
            ? new EgressSpec(proxyImage, config.NetworkAllowlist ?? [], new ModelRoute(credential.ChatGptUpstream ?? config.ChatGptBaseUrl, tokens.AccessToken)
            {
                ChatGpt = new ChatGptRoute(tokens.AccountId, tokens.IsFedramp),
            })
            : new EgressSpec(proxyImage, config.EffectiveAllowlist, new ModelRoute(config.ModelBaseUrl, key));

    /// <summary>The host variables named in env_passthrough that are set; nothing else of the host's environment enters a container.</summary>
    private static Dictionary<string, string> Passed(RunnerConfig config, Func<string, string?> hostEnvironment) =>
        config.EnvPassthrough
            .Select(name => (name, value: hostEnvironment(name)))
            .Where(p => !string.IsNullOrEmpty(p.value))
            .ToDictionary(p => p.name, p => p.value!, StringComparer.Ordinal);
}
