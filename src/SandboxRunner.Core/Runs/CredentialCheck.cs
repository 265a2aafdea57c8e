using SandboxRunner.Auth;
using SandboxRunner.Configuration;

namespace SandboxRunner.Runs;

/// <summary>The doctor's <c>auth</c> check: which credential a run would use (and why), and whether it works, with the fix.</summary>
public static class CredentialCheck
{
    /// <summary>An access token that lapses within this is refreshed by the doctor, as the next run would do.</summary>
    private static readonly TimeSpan Soon = TimeSpan.FromHours(1);

    public static Task<DoctorCheck> ExamineAsync(RunnerConfig config, Func<string, string?> environment, TimeProvider clock, CancellationToken cancellationToken)
    {
        var (choice, problem) = CredentialRule.Choose(config, environment);
        return ExamineAsync(config, choice, problem, environment, clock, cancellationToken);
    }

    /// <summary>The check of what <see cref="CredentialRule.Choose"/> already decided (the doctor decides once for all its checks).</summary>
    public static async Task<DoctorCheck> ExamineAsync(
        RunnerConfig config, CredentialChoice? choice, Problem? problem, Func<string, string?> environment, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (problem is not null)
        {
            var fix = problem.Field == "model_base_url"
                ? $"set {ModelEndpointRule.Variable}={config.ModelBaseUrl} in the server's environment if you trust that endpoint with the key, or remove model_base_url from {RunnerConfig.FileName}"
                : $"change {problem.Field} or network_policy in {RunnerConfig.FileName}";
            return new DoctorCheck("auth", Doctor.Fail, $"{problem.Field}: {problem.Rule}", fix);
        }

        return choice!.Kind switch
        {
            CredentialKind.ApiKey => ApiKey(config, environment, choice),
            CredentialKind.ChatGpt => await ChatGptAsync(environment, clock, choice, cancellationToken),
            _ => None(config, choice),
        };
    }

    private static DoctorCheck None(RunnerConfig config, CredentialChoice choice) =>
        config.NetworkPolicy == NetworkPolicy.None
            ? new DoctorCheck("auth", Doctor.Ok, $"none: {choice.Reason} (network_policy none: a local model needs no credential)", null)
            : new DoctorCheck("auth", Doctor.Fail, $"none: {choice.Reason}, so Codex has no credential",
                $"set {config.ModelApiKeyEnv} in the MCP client's env for this server, or sign in with ChatGPT on this machine (`codex login`) and use network_policy \"deny\"");

    private static DoctorCheck ApiKey(RunnerConfig config, Func<string, string?> environment, CredentialChoice choice)
    {
        var policy = ConfigLoader.NetworkPolicies.First(p => p.Value == config.NetworkPolicy).Key;
        if (config.NetworkPolicy == NetworkPolicy.Deny)
        {
            return string.IsNullOrEmpty(environment(config.ModelApiKeyEnv))
                ? new DoctorCheck("auth", Doctor.Fail, $"api_key: {choice.Reason}, but {config.ModelApiKeyEnv} (model_api_key_env) is not set in the server's environment",
                    $"set {config.ModelApiKeyEnv} in the MCP client's env for this server (Codex as a client: list it in env_vars)")
                : new DoctorCheck("auth", Doctor.Ok,
                    $"api_key: {choice.Reason}; network_policy deny: read from {config.ModelApiKeyEnv} (model_api_key_env) in the server's environment and added by the egress proxy to requests for {config.ModelBaseUrl}; never passed to tasks, even when listed in env_passthrough (they hold a placeholder)", null);
        }

        var keyVariable = KeyVariableInTask(config);
        var reads = keyVariable == config.ModelApiKeyEnv ? "" : $" (model_api_key_env, {config.ModelApiKeyEnv}, is what a deny run's egress proxy reads)";
        if (!config.EnvPassthrough.Contains(keyVariable))
        {
            return new DoctorCheck("auth", Doctor.Fail,
                $"api_key: Codex in a task reads its key from {keyVariable}{reads}, which is not in env_passthrough, so under network_policy {policy} tasks get no key",
                $"add \"{keyVariable}\" to env_passthrough in {RunnerConfig.FileName}");
        }

        var reach = config.NetworkPolicy == NetworkPolicy.None ? "; tasks reach only loopback, so only a local model answers" : "";
        return string.IsNullOrEmpty(environment(keyVariable))
            ? new DoctorCheck("auth", Doctor.Fail, $"api_key: Codex in a task reads its key from {keyVariable}{reads}, which is not set in the server's environment",
                $"set {keyVariable} in the MCP client's env for this server (Codex as a client: list it in env_vars)")
            : new DoctorCheck("auth", Doctor.Ok,
                $"api_key: {choice.Reason}; network_policy {policy}: passed to tasks in their environment as {keyVariable} (env_passthrough), where Codex reads it{reads}{reach}", null);
    }

    /// <summary>
    /// The variable Codex inside a task (outside deny) reads its key from. With a model_base_url of its own the runner
    /// points Codex at a provider whose env_key is model_api_key_env, set after the user's overrides so it wins;
    /// with the default URL Codex keeps its built-in provider (CODEX_API_KEY) unless an override names an env_key.
    /// </summary>
    private static string KeyVariableInTask(RunnerConfig config) =>
        config.ModelBaseUrl != RunnerConfig.DefaultModelBaseUrl
            ? config.ModelApiKeyEnv
            : config.CodexConfigOverrides
                .Select(o => System.Text.RegularExpressions.Regex.Match(o, @"env_key\s*=\s*""([A-Za-z_][A-Za-z0-9_]*)"""))
                .FirstOrDefault(m => m.Success)?.Groups[1].Value ?? CodexOwnKeyVariable;

    /// <summary>Where Codex's built-in OpenAI provider reads an API key from in <c>codex exec</c>.</summary>
    private const string CodexOwnKeyVariable = "CODEX_API_KEY";

    private static async Task<DoctorCheck> ChatGptAsync(Func<string, string?> environment, TimeProvider clock, CredentialChoice choice, CancellationToken cancellationToken)
    {
        using var signIn = ChatGptSignIn.ForHost(environment, clock);
        try
        {
            var tokens = signIn.Read();
            if (tokens.UnsafeForProxy() is { } unsafeValue)
            {
                return new DoctorCheck("auth", Doctor.Fail, $"chatgpt: {choice.AuthFilePath}: {unsafeValue}", ChatGptAuthException.LoginFix);
            }

            var now = clock.GetUtcNow();
            var stale = tokens.StaleAt is { } at ? $"access token good until {at:u}" : "access token with no expiry";
            var held = $"the egress proxy adds the token and account id to ChatGPT backend requests; tasks hold placeholders";
            if (tokens.ValidAt(now + Soon))
            {
                return new DoctorCheck("auth", Doctor.Ok,
                    $"chatgpt: {choice.Reason}; account {tokens.AccountId}, plan {tokens.PlanType ?? "unknown"}, {stale}, refresh token present (refreshed on this machine before a run that would outlast it); {held}", null);
            }

            // What the next run would do anyway: refresh on the host now, and say whether that works.
            var fresh = await signIn.FreshAsync(Soon, cancellationToken);
            return new DoctorCheck("auth", Doctor.Ok,
                $"chatgpt: {choice.Reason}; the access token had {(tokens.ValidAt(now) ? "under an hour left" : "expired")} and was refreshed on this machine ({signIn.TokenUrl}), now good until {fresh.StaleAt:u}; {choice.AuthFilePath} updated for Codex too; {held}", null);
        }
        catch (ChatGptAuthException e)
        {
            return new DoctorCheck("auth", Doctor.Fail, $"chatgpt: {e.Message}", ChatGptAuthException.LoginFix);
        }
    }
}
