using System.Text;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Boxes.Swarm;

namespace SandboxRunner.Tests.Boxes;

public sealed class RegistryLoginTests : IDisposable
{
    private const string Registry = "registry.example:5000";
    private readonly string _folder = Directory.CreateTempSubdirectory("sandbox-runner-login-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static string Basic(string pair) => Convert.ToBase64String(Encoding.UTF8.GetBytes(pair));

    private async Task<Docker.DotNet.Models.AuthConfig> ReadAsync(string? configJson, string? registry = Registry)
    {
        if (configJson is not null)
        {
            await File.WriteAllTextAsync(Path.Combine(_folder, "config.json"), configJson);
        }

        return await new RegistryLogin(registry, _folder).ReadAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_login_docker_login_stored_for_the_registry_is_given_with_its_user_and_password()
    {
        var auth = await ReadAsync("{\"auths\":{\"" + Registry + "\":{\"auth\":\"" + Basic("runner:s3cret:with:colons") + "\"}}}");

        Assert.Equal(("runner", "s3cret:with:colons", Registry), (auth.Username, auth.Password, auth.ServerAddress));
    }

    [Fact]
    public async Task A_login_stored_under_the_registry_s_url_is_the_registry_s()
    {
        var auth = await ReadAsync("{\"auths\":{\"https://" + Registry + "/v2/\":{\"auth\":\"" + Basic("runner:pw") + "\"}}}");

        Assert.Equal("runner", auth.Username);
    }

    [Fact]
    public async Task An_identity_token_is_given_as_one()
    {
        var auth = await ReadAsync("{\"auths\":{\"" + Registry + "\":{\"identitytoken\":\"tok-123\"}}}");

        Assert.Equal(("tok-123", null), (auth.IdentityToken, auth.Username));
    }

    [Fact]
    public async Task A_docker_login_after_the_first_read_is_given_at_the_next_use()
    {
        var file = Path.Combine(_folder, "config.json");
        var login = new RegistryLogin(Registry, _folder);
        await File.WriteAllTextAsync(file, "{\"auths\":{\"" + Registry + "\":{\"auth\":\"" + Basic("old:pw") + "\"}}}");
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddMinutes(-5));
        var before = await login.ReadAsync(CancellationToken.None);

        await File.WriteAllTextAsync(file, "{\"auths\":{\"" + Registry + "\":{\"auth\":\"" + Basic("new:pw") + "\"}}}");
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow);
        var after = await login.ReadAsync(CancellationToken.None);

        Assert.Equal(("old", "new"), (before.Username, after.Username));
    }

    [Fact]
    public async Task Another_registry_s_login_is_never_given()
    {
        var auth = await ReadAsync("{\"auths\":{\"other.example:5000\":{\"auth\":\"" + Basic("runner:pw") + "\"},\"" + Registry + ".evil\":{\"auth\":\"" + Basic("x:y") + "\"}}}");

        Assert.Null(auth.Username);
        Assert.Null(auth.Password);
    }

    [Fact]
    public async Task No_config_file_means_an_anonymous_pull_and_push()
    {
        var auth = await ReadAsync(configJson: null);

        Assert.Null(auth.Username);
        Assert.Null(auth.IdentityToken);
    }

    [Fact]
    public async Task No_registry_configured_reads_nothing()
    {
        var auth = await ReadAsync("not json at all", registry: null);

        Assert.Null(auth.Username);
    }

    [Fact]
    public async Task A_config_that_is_not_json_is_refused_naming_the_file_and_the_fix()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => ReadAsync("{\"auths\": "));

        Assert.Contains(Path.Combine(_folder, "config.json"), e.Message, StringComparison.Ordinal);
        Assert.Contains($"docker login {Registry}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stored_login_that_is_not_user_and_password_is_refused_with_the_fix()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => ReadAsync("{\"auths\":{\"" + Registry + "\":{\"auth\":\"" + Basic("no-colon") + "\"}}}"));

        Assert.Contains("not user:password", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_credential_helper_that_is_not_installed_is_named_with_the_fix()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => ReadAsync("{\"credHelpers\":{\"" + Registry + "\":\"sandbox-runner-no-such-helper\"}}"));

        Assert.Contains("docker-credential-sandbox-runner-no-such-helper", e.Message, StringComparison.Ordinal);
        Assert.Contains("install it", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_docker_config_folder_is_DOCKER_CONFIG_else_the_home_s_docker_folder()
    {
        var set = EngineConnection.FromEnvironment(name => name switch { "DOCKER_CONFIG" => "/etc/runner-docker", "HOME" => "/home/u", _ => null });
        var unset = EngineConnection.FromEnvironment(name => name == "HOME" ? "/home/u" : null);

        Assert.Equal(("/etc/runner-docker", "/home/u/.docker"), (set.ConfigFolder, unset.ConfigFolder));
    }
}
