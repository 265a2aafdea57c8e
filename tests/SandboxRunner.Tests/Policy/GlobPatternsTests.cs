using SandboxRunner.Configuration;
using SandboxRunner.Policy;
using SandboxRunner.Runs;
using SandboxRunner.Tests.Runs;
using SandboxRunner.Tests.Configuration;

namespace SandboxRunner.Tests.Policy;

/// <summary>Path patterns as users write them: brace alternatives work, and what the matcher would misread is refused where the config is read.</summary>
public sealed class GlobPatternsTests
{
    [Theory]
    [InlineData("src/*.{js,ts}", "src/*.js|src/*.ts")]
    [InlineData("{src,tests}/**", "src/**|tests/**")]
    [InlineData("src/{a,{b,c}}.js", "src/a.js|src/b.js|src/c.js")]
    [InlineData("{a,b}/{c,d}", "a/c|a/d|b/c|b/d")]
    [InlineData("lib/{,min/}*.js", "lib/*.js|lib/min/*.js")]
    [InlineData("pages/{id}.tsx", "pages/{id}.tsx")]
    [InlineData("src/**", "src/**")]
    public void Braces_expand_into_the_patterns_they_list(string pattern, string expanded)
    {
        Assert.Equal(expanded.Split('|'), GlobPatterns.Expand(pattern));
    }

    [Theory]
    [InlineData("src/fix.js", true)]
    [InlineData("src/types.ts", true)]
    [InlineData("src/style.css", false)]
    [InlineData("src/deep/fix.js", false)]
    public void A_brace_pattern_in_default_allowed_paths_allows_each_alternative(string path, bool allowed)
    {
        var config = ConfigLoader.Parse("""{ "default_allowed_paths": ["src/*.{js,ts}"] }""");

        Assert.Equal(allowed, new PathPolicy(config.DefaultAllowedPaths).Allows(path));
    }

    [Fact]
    public void A_path_violation_names_the_pattern_as_written()
    {
        var violation = Assert.Single(new PathPolicy(["src/*.{js,ts}"]).Check(["src/a.css"], _ => null));

        Assert.Equal("matches none of the allowed paths (src/*.{js,ts})", violation.Rule);
    }

    [Theory]
    [InlineData("src/*.{js,ts", ".mcp-codex.json: default_allowed_paths[0]: has a '{' without its '}'; braces list alternatives, as in src/*.{js,ts}")]
    [InlineData("src/*.js,ts}", ".mcp-codex.json: default_allowed_paths[0]: has a '}' without its '{'; braces list alternatives, as in src/*.{js,ts}")]
    [InlineData("src/file?.js", ".mcp-codex.json: default_allowed_paths[0]: uses '?', which the path matcher reads as a literal '?', not as any one character; use '*' (src/file*.js)")]
    [InlineData("{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}", ".mcp-codex.json: default_allowed_paths[0]: has braces that expand to more than 64 patterns; list fewer alternatives")]
    public void A_pattern_the_matcher_would_misread_is_refused_with_its_rule(string pattern, string message)
    {
        Assert.Equal(message, Config.Refusal($$"""{ "default_allowed_paths": ["{{pattern}}"] }""").Message);
    }

    [Fact]
    public void Cache_keys_take_braces_too()
    {
        Assert.Equal(".mcp-codex.json: environment.cache_keys[0]: has a '{' without its '}'; braces list alternatives, as in src/*.{js,ts}",
            Config.Refusal("""{ "environment": { "base_image": "node:22", "cache_keys": ["{package,yarn.lock"] } }""").Message);
    }

    [Fact]
    public void Verify_inputs_take_braces_too_at_the_top_level_and_in_an_environment()
    {
        Assert.Equal(".mcp-codex.json: verify_inputs[0]: uses '?', which the path matcher reads as a literal '?', not as any one character; use '*' (src/file*.js)",
            Config.Refusal("""{ "verify_inputs": ["test/run?.sh"] }""").Message);
        Assert.Equal(".mcp-codex.json: environment.verify_inputs[0]: has a '}' without its '{'; braces list alternatives, as in src/*.{js,ts}",
            Config.Refusal("""{ "environment": { "base_image": "node:22", "verify_inputs": ["test}/*"] } }""").Message);
    }

    [Fact]
    public async Task A_runs_or_tasks_verify_inputs_the_matcher_would_misread_are_refused_before_anything_is_created()
    {
        using var bed = await RunnerTestBed.CreateAsync();
        var refusal = await Assert.ThrowsAsync<InvalidInputException>(() => bed.RunAsync(new RunRequest
        {
            VerifyInputs = ["{test,spec/**"],
            Tasks = [RunnerTestBed.Ask("t") with { Verify = ["sh test/run.sh"], VerifyInputs = ["test/run?.sh", "{test,scripts}/*.sh"] }],
        }, CancellationToken.None));

        Assert.Contains("verify_inputs[0]: has a '{' without its '}'", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("tasks[0].verify_inputs[0]: uses '?'", refusal.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("verify_inputs[1]", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(0, bed.Engine.CreatedCount);
    }

    [Fact]
    public void A_brace_verify_input_reports_a_change_to_each_alternative()
    {
        var plan = new SandboxRunner.Verification.VerifyPlan(["npm test"], TimeSpan.FromMinutes(1), ["{test,scripts}/*.sh"]);

        Assert.Equal(["scripts/ci.sh", "test/run.sh"], SandboxRunner.Verification.ChangedInputs.Find(["scripts/ci.sh", "src/a.js", "test/run.sh"], plan));
    }

    [Theory]
    [InlineData("src/*.{js,ts}", true)]
    [InlineData("{src,tests}/*.js", true)]
    [InlineData("{src,lib}/*.js", false)]
    public void A_task_brace_pattern_narrows_when_every_alternative_does(string task, bool narrowing)
    {
        Assert.Equal(narrowing, PathPolicy.IsNarrowing(task, ["src/**", "tests/**"]));
    }

    [Fact]
    public void A_config_brace_pattern_is_narrowed_by_one_of_its_alternatives()
    {
        Assert.True(PathPolicy.IsNarrowing("src/a.ts", ["src/*.{js,ts}"]));
    }
}
