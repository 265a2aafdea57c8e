using System.Text.RegularExpressions;
using CsCheck;
using SandboxRunner.Testcontainers;

namespace SandboxRunner.Tests.Testcontainers;

/// <summary>
/// A scripted agent's steps become lines of the fake Codex CLI's step language: each step exactly one line,
/// whatever its text holds, so no text can become a step of its own.
/// </summary>
public sealed partial class AgentScriptTests
{
    [Fact]
    public void Steps_become_the_fake_codex_step_lines_after_the_prompt_in_order()
    {
        var prompt = AgentScript.Of(
            AgentStep.Write("src/a.txt", "one\ttwo\n"),
            AgentStep.Append("src/a.txt", "more"),
            AgentStep.Delete("old.txt"),
            AgentStep.Run("sh test.sh && echo done"),
            AgentStep.Sleep(TimeSpan.FromMilliseconds(1500)),
            AgentStep.Message("Done.")).PromptFor("Fix it.");

        Assert.Equal(
            "Fix it.\n@write src/a.txt one\\ttwo\\n\n@append src/a.txt more\n@delete old.txt\n@run * sh test.sh && echo done\n@sleep 1.5\n@message Done.",
            prompt);
    }

    [Fact]
    public void A_prompt_line_that_starts_with_an_at_sign_is_indented_so_it_is_not_a_step()
    {
        var prompt = AgentScript.Of(AgentStep.Message("ok")).PromptFor("Do this:\n@delete everything");

        Assert.Equal(["@message ok"], StepLines(prompt));
    }

    [Fact]
    public void Any_text_is_one_step_line_that_decodes_back_to_the_text()
    {
        Gen.String[Gen.Char.AlphaNumeric.Select(c => c), 0, 40]
            .Select(Gen.Int[0, 4].Array[0, 10], (s, picks) => string.Concat(s, string.Concat(picks.Select(p => "\n\t\\@ "[p]))))
            .Sample(text =>
            {
                var lines = StepLines(AgentScript.Of(AgentStep.Write("f.txt", text), AgentStep.Message(text)).PromptFor("p"));
                Assert.Equal(2, lines.Count);
                Assert.Equal(text, Decode(lines[0]["@write f.txt ".Length..]));
                Assert.Equal(text, Decode(lines[1]["@message ".Length..]));
            }, iter: 2000);
    }

    [Theory]
    [InlineData("has space.txt")]
    [InlineData("")]
    [InlineData("a\nb")]
    public void A_path_with_a_space_a_newline_or_nothing_is_refused(string path) =>
        Assert.Contains("path", Assert.Throws<ArgumentException>(() => AgentScript.Of(AgentStep.Write(path, "x")).PromptFor("p")).Message, StringComparison.Ordinal);

    [Fact]
    public void A_command_of_two_lines_is_refused_with_how_to_join_them() =>
        Assert.Contains("join commands", Assert.Throws<ArgumentException>(() => AgentScript.Of(AgentStep.Run("ls\nrm -rf /")).PromptFor("p")).Message, StringComparison.Ordinal);

    [Fact]
    public void Text_with_a_carriage_return_is_refused() =>
        Assert.Throws<ArgumentException>(() => AgentScript.Of(AgentStep.Message("a\rb")).PromptFor("p"));

    [Fact]
    public void A_scripted_task_without_a_script_and_a_real_model_task_with_one_are_refused_naming_the_task()
    {
        Assert.Contains("'plain'", Assert.Throws<ArgumentException>(() => new CodexTask("plain", "p").ToRequest(ModelSource.Scripted)).Message, StringComparison.Ordinal);
        Assert.Contains("'scripted'", Assert.Throws<ArgumentException>(() => CodexTask.Scripted("scripted", "p", AgentStep.Message("m")).ToRequest(ModelSource.ModelKey)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_task_carries_its_fields_into_the_runners_task_request()
    {
        var request = new CodexTask("t1", "Do it.") { AllowedPaths = ["src/**"], AllowedCommands = ["npm test"], Verify = ["npm test"], Environment = "node", TimeoutSec = 90, Attempts = 2 }
            .ToRequest(ModelSource.Repository);

        Assert.Equal(("t1", "Do it.", "node", 90, 2), (request.TaskId, request.Prompt, request.Environment, request.TimeoutSec, request.Attempts));
        Assert.Equal(["src/**"], request.AllowedPaths);
        Assert.Equal(["npm test"], request.AllowedCommands);
        Assert.Equal(["npm test"], request.Verify);
    }

    /// <summary>The lines the fake Codex CLI takes as steps (images/fake-codex/codex: lines that start with <c>@</c>).</summary>
    private static List<string> StepLines(string prompt) => prompt.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith('@')).ToList();

    /// <summary>The fake Codex CLI's decode_text: <c>\n</c>, <c>\t</c> and <c>\\</c>, other backslashes kept.</summary>
    private static string Decode(string text) => Escapes().Replace(text, m => m.Groups[1].Value switch { "n" => "\n", "t" => "\t", _ => "\\" });

    [GeneratedRegex(@"\\([nt\\])")]
    private static partial Regex Escapes();
}
