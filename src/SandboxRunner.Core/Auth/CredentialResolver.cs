using SandboxRunner.Configuration;

namespace SandboxRunner.Auth;

/// <summary>
/// Resolves the credential of each run on the host, before anything is created: the <see cref="CredentialRule"/>'s
/// choice, and for a ChatGPT sign-in tokens that stay valid for the whole run (refreshed here first when they would
/// not). One per runner, so its runs share one refresh lock.
/// </summary>
public sealed class CredentialResolver(RunnerConfig config, Func<string, string?> environment, TimeProvider clock) : IDisposable
{
    public const string Source = "model credential";

    /// <summary>The host's override of the ChatGPT backend (a repository's config may only name chatgpt.com).</summary>
    public const string BackendVariable = "SANDBOX_RUNNER_CHATGPT_BASE_URL";
    private readonly Lock _gate = new();
    private ChatGptSignIn? _signIn;

    /// <summary>The run's credential; an unusable one is an <see cref="InvalidInputException"/> saying why and what to do.</summary>
    /// <param name="validFor">How long the run may take: a ChatGPT access token expiring sooner is refreshed first.</param>
    public async Task<RunCredential> ResolveAsync(TimeSpan validFor, CancellationToken cancellationToken)
    {
        var (choice, problem) = CredentialRule.Choose(config, environment);
        if (problem is not null)
        {
            throw new InvalidInputException(Source, [problem]);
        }

        switch (choice!.Kind)
        {
            case CredentialKind.ApiKey:
                return RunCredential.ForApiKey(environment(config.ModelApiKeyEnv) is { Length: > 0 } key ? key : null, choice.Reason);
            case CredentialKind.None:
                return RunCredential.None(choice.Reason);
        }

        var upstream = config.ChatGptBaseUrl;
        if (environment(BackendVariable) is { Length: > 0 } overridden)
        {
            if (ConfigLoader.UpstreamUrl(overridden) is { } broken)
            {
                throw new InvalidInputException(Source, BackendVariable, broken);
            }

            upstream = overridden.TrimEnd('/');
        }

        ChatGptTokens tokens;
        try
        {
            tokens = await SignIn().FreshAsync(validFor, cancellationToken);
        }
        catch (ChatGptAuthException e)
        {
            throw new InvalidInputException(Source, AuthFile.FileName, e.Message);
        }

        if (tokens.UnsafeForProxy() is { } unsafeValue)
        {
            throw new InvalidInputException(Source, AuthFile.FileName, $"{choice.AuthFilePath}: {unsafeValue}; {ChatGptAuthException.LoginFix}");
        }

        return RunCredential.ForChatGpt(tokens, choice.Reason, upstream);
    }

    /// <summary>The host's sign-in (created on first use: a run with an API key never touches auth.json).</summary>
    public ChatGptSignIn SignIn()
    {
        lock (_gate)
        {
            return _signIn ??= ChatGptSignIn.ForHost(environment, clock);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _signIn?.Dispose();
        }
    }
}
