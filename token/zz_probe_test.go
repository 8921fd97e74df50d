package token

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"testing"
)

func TestZZProbe(t *testing.T) {
	tok := *sample(Ed25519)
	type S struct {
		V Token
		P *Token
	}
	s := S{V: tok, P: &tok}
	b, err := json.Marshal(s)
	fmt.Printf("json value struct: %.200s %v\n", b, err)
	b, err = json.Marshal(&s)
	fmt.Printf("json ptr struct: %.200s %v\n", b, err)
	b, err = json.Marshal(tok)
	fmt.Printf("json top value: %.100s %v\n", b, err)
	var back Token
	fmt.Println("unmarshal struct form:", json.Unmarshal(b, &back))
	b, err = json.Marshal(&tok)
	fmt.Printf("json top ptr: %.100s %v\n", b, err)
	type X struct {
		XMLName xml.Name `xml:"x"`
		A       Token    `xml:"a,attr"`
		E       Token    `xml:"e"`
		PA      *Token   `xml:"pa,attr"`
	}
	x := X{A: tok, E: tok, PA: &tok}
	b, err = xml.Marshal(x)
	fmt.Printf("xml value: %.600s %v\n", b, err)
	b, err = xml.Marshal(&x)
	fmt.Printf("xml ptr: %.600s %v\n", b, err)
	b, err = xml.Marshal(tok)
	fmt.Printf("xml top value: %.300s %v\n", b, err)
	b, err = xml.Marshal(&tok)
	fmt.Printf("xml top ptr: %.300s %v\n", b, err)
	var y X
	fmt.Println(xml.Unmarshal([]byte(`<x a="HT1:00" pa="HT1:00"><e>HT1:00</e></x>`), &y))
	var zz Token
	fmt.Println(json.Unmarshal([]byte(`"HT1:00"`), &zz))
	fmt.Println(json.Unmarshal([]byte(`null`), &zz), zz.Suite)
	d := &Directory{}
	fmt.Println(json.Marshal(d))
}
